"""Passkeys and security keys (WebAuthn, DESIGN §5.8): the two ceremonies, through Duo's
``webauthn`` package.

The browser gets the options as JSON (``static/js/passkeys.js`` calls
``navigator.credentials``) and posts back what the authenticator answered; the challenge
waits in the flow that asked for it and is used once. User verification (a PIN or a
fingerprint on the authenticator) is required both times: a passkey then proves two factors
on its own, as Entra counts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import PasskeyCredential, VerificationMethod

# Well-known AAGUIDs and the names people know them by. Sources: the community list
# github.com/passkeydeveloper/passkey-authenticator-aaguids (aaguid.json) for passkey
# providers; Microsoft's "FIDO2 security key providers" table (MicrosoftDocs/entra-docs,
# concept-fido2-hardware-vendor.md) for the Yubico keys; "Enable passkeys in Microsoft
# Authenticator" (how-to-enable-authenticator-passkey.md) for Authenticator. An unknown one
# shows as "Unknown model"; FIDO's Metadata Service is the full list.
KNOWN_AAGUIDS = {
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (Managed)",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
    "de1e552d-db1d-4423-a619-566b625cdc84": "Microsoft Authenticator (Android)",
    "90a3ccdf-635c-4729-a248-9b709135078f": "Microsoft Authenticator (iOS)",
    "cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5 Series",
    "ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 Series",
    "fa2b99dc-9e39-4257-8f92-4a30d23c4118": "YubiKey 5 Series with NFC",
    "2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 Series with NFC",
    "149a2021-8ef6-4133-96b8-81f8d5b7f1f5": "Security Key by Yubico with NFC",
    "a4e9fc6d-4cbe-4758-b8ba-37598bb5bbaa": "Security Key NFC by Yubico",
}
NO_AAGUID = "00000000-0000-0000-0000-000000000000"


def aaguid_name(aaguid: str) -> str:
    """The authenticator's friendly name, or '' when the AAGUID is unknown (or all zeros,
    which an authenticator sends when it says nothing about itself)."""
    return KNOWN_AAGUIDS.get(aaguid.lower(), "")


class PasskeyRefused(Exception):
    """The browser's answer cannot be accepted; ``message`` says so to the person.
    ``locked``: refused because too many answers were refused before it."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.locked = locked


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the domain (RP ID) and the origins allowed to answer."""

    id: str
    name: str
    origins: tuple[str, ...]


def relying_party(*, host: str, scheme: str) -> RelyingParty:
    """From the settings, or else the host this request came to (Django has checked it
    against ALLOWED_HOSTS) and its own origin."""
    hostname = urlsplit(f"//{host}").hostname or host
    rp_id = settings.MFAPORTAL_WEBAUTHN_RP_ID or hostname
    origins = tuple(settings.MFAPORTAL_WEBAUTHN_ORIGINS) or (f"{scheme}://{host}",)
    return RelyingParty(id=rp_id, name=_("MFA Portal"), origins=origins)


def _descriptors(user: DirectoryUser) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(credential.credential_id),
            transports=[
                AuthenticatorTransport(t)
                for t in credential.transports.split(",")
                if t in AuthenticatorTransport._value2member_map_
            ]
            or None,
        )
        for credential in PasskeyCredential.objects.filter(method__user=user)
    ]


@dataclass(frozen=True)
class Ceremony:
    """What the page hands the browser (``options``, JSON) and what the flow keeps until
    the answer comes (``challenge``, base64url)."""

    options: str
    challenge: str


def registration_begin(*, user: DirectoryUser, rp: RelyingParty) -> Ceremony:
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.user_principal_name,
        user_id=user.object_id.bytes,
        user_display_name=user.display_name or user.user_principal_name,
        # The attestation statement is kept as received (an admin can check the model later).
        attestation=AttestationConveyancePreference.DIRECT,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        # The same authenticator is not registered twice.
        exclude_credentials=_descriptors(user),
    )
    return Ceremony(options_to_json(options), bytes_to_base64url(options.challenge))


@dataclass(frozen=True)
class NewPasskey:
    """A registration the authenticator answered and the portal verified, not yet saved."""

    credential_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    attestation_format: str
    attestation_object: bytes
    transports: str
    backed_up: bool


def _parsed(response: str) -> dict[str, Any]:
    try:
        parsed = json.loads(response)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise PasskeyRefused(_("Your browser's answer could not be read. Try again."))
    return parsed


def registration_finish(*, response: str, challenge: str, rp: RelyingParty) -> NewPasskey:
    """Verify what ``navigator.credentials.create`` answered (origin, RP ID, challenge,
    user verification, attestation); ``PasskeyRefused`` if anything is off."""
    credential = _parsed(response)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as problem:
        raise PasskeyRefused(
            _("The security key or passkey could not be registered: %(reason)s")
            % {"reason": _reason(problem)}
        ) from problem
    transports = (credential.get("response") or {}).get("transports") or []
    return NewPasskey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        attestation_format=str(getattr(verified.fmt, "value", verified.fmt)),
        attestation_object=verified.attestation_object,
        transports=",".join(str(t) for t in transports if isinstance(t, str))[:200],
        backed_up=verified.credential_backed_up,
    )


def authentication_begin(*, user: DirectoryUser, rp: RelyingParty) -> Ceremony:
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return Ceremony(options_to_json(options), bytes_to_base64url(options.challenge))


@dataclass(frozen=True)
class Assertion:
    """A sign-in the authenticator answered and the portal verified: which credential,
    and its new signature counter."""

    method_id: int
    credential_id: str
    new_sign_count: int


def _credential_id(credential: dict[str, Any]) -> str:
    return str(credential.get("rawId") or credential.get("id") or "")


def answer_method_id(*, user: DirectoryUser, response: str) -> int | None:
    """The user's passkey an answer says it comes from, or None (unreadable, or not theirs):
    what a refused answer counts against."""
    try:
        raw_id = _credential_id(_parsed(response))
    except PasskeyRefused:
        return None
    return (
        PasskeyCredential.objects.filter(credential_id=raw_id, method__user=user)
        .values_list("method_id", flat=True)
        .first()
    )


def authentication_finish(
    *, user: DirectoryUser, response: str, challenge: str, rp: RelyingParty
) -> Assertion:
    """Verify what ``navigator.credentials.get`` answered against one of this user's own
    passkeys; a counter that did not go up (a cloned key) is refused."""
    credential = _parsed(response)
    raw_id = _credential_id(credential)
    stored = PasskeyCredential.objects.filter(credential_id=raw_id, method__user=user).first()
    if stored is None:
        raise PasskeyRefused(_("That security key or passkey isn't registered for your account."))
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=bytes(stored.public_key),
            credential_current_sign_count=stored.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as problem:
        raise PasskeyRefused(
            _("Your security key or passkey could not be verified: %(reason)s")
            % {"reason": _reason(problem)}
        ) from problem
    return Assertion(stored.method_id, stored.credential_id, verified.new_sign_count)


def _reason(problem: Exception) -> str:
    """A short reason for the person, never the response itself."""
    text = str(problem).lower()
    if "origin" in text:
        return _("it answered for another site.")
    if "sign count" in text:
        return _("its signature counter went backwards, which a copied key would do.")
    if "user verification" in text or "user was not verified" in text:
        return _("it did not check your PIN or fingerprint.")
    if "challenge" in text:
        return _("the request had expired. Try again.")
    return _("the answer was not valid.")


def passkey_rows(methods: list[VerificationMethod]) -> list[dict[str, object]]:
    """A person's passkeys as their pages list them: the method, the authenticator's model
    where its AAGUID is known, and when it was last used."""
    ids = [m.pk for m in methods if m.kind == VerificationMethod.Kind.PASSKEY]
    if not ids:
        return []
    credentials = {c.method_id: c for c in PasskeyCredential.objects.filter(method_id__in=ids)}
    rows: list[dict[str, object]] = []
    for method in methods:
        credential = credentials.get(method.pk)
        if credential is None:
            continue
        rows.append(
            {
                "method": method,
                "model": aaguid_name(credential.aaguid),
                "last_used_at": credential.last_used_at,
            }
        )
    return rows
