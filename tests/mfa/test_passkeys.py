"""Passkeys and security keys: the WebAuthn checks, against real signatures from a software
authenticator (tests/mfa/soft_authenticator.py)."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings

from mfaportal.admin_portal.history import event_sentence
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import passkeys
from mfaportal.mfa.models import MfaState, PasskeyCredential, UserMfa, VerificationMethod
from mfaportal.mfa.passkeys import PasskeyRefused
from mfaportal.mfa.services.methods import verification_method_delete
from mfaportal.mfa.services.passkeys import (
    passkey_add,
    passkey_registration_save,
    passkey_rename,
    passkey_use_record,
)
from tests.factories import make_user
from tests.mfa.soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.django_db

ORIGIN = "https://portal.example.com"
RP = passkeys.RelyingParty(id="portal.example.com", name="MFA Portal", origins=(ORIGIN,))
YUBIKEY_5_NFC = uuid.UUID("2fc0579f-8113-47ea-b116-bb5a8db9202a")


def _context(user: DirectoryUser) -> ChangeContext:
    return ChangeContext(actor=user, source=AuditSource.SELF_SERVICE)


def _registered(user: DirectoryUser, key: SoftAuthenticator, name: str = "") -> VerificationMethod:
    ceremony = passkeys.registration_begin(user=user, rp=RP)
    new = passkeys.registration_finish(
        response=key.register(ceremony.options, origin=ORIGIN), challenge=ceremony.challenge, rp=RP
    )
    return passkey_add(user=user, passkey=new, name=name, context=_context(user))


def _sign_in(user: DirectoryUser, key: SoftAuthenticator, **answer: object) -> None:
    ceremony = passkeys.authentication_begin(user=user, rp=RP)
    origin = str(answer.pop("origin", ORIGIN))
    assertion = passkeys.authentication_finish(
        user=user,
        response=key.sign_in(ceremony.options, origin=origin, **answer),  # type: ignore[arg-type]
        challenge=ceremony.challenge,
        rp=RP,
    )
    passkey_use_record(assertion=assertion)


def test_a_registered_security_key_keeps_its_attestation_and_is_named_after_its_model() -> None:
    user = make_user()
    method = _registered(user, SoftAuthenticator(aaguid=YUBIKEY_5_NFC.bytes))
    stored = PasskeyCredential.objects.get(method=method)
    assert method.kind == VerificationMethod.Kind.PASSKEY
    assert method.device_name == "YubiKey 5 Series with NFC"
    assert stored.aaguid == str(YUBIKEY_5_NFC)
    assert stored.attestation_format == "none"
    assert bytes(stored.attestation_object).startswith(b"\xa3")  # the CBOR map as received


def test_a_passkey_of_an_unknown_model_keeps_the_name_the_person_gave() -> None:
    user = make_user()
    method = _registered(user, SoftAuthenticator(), name="  Work   laptop ")
    assert method.device_name == "Work laptop"
    assert passkeys.aaguid_name(passkeys.NO_AAGUID) == ""


def test_signing_in_with_a_passkey_moves_its_counter_on_and_notes_when() -> None:
    user = make_user()
    key = SoftAuthenticator()
    method = _registered(user, key)
    _sign_in(user, key)
    _sign_in(user, key)
    stored = PasskeyCredential.objects.get(method=method)
    assert stored.sign_count == 2
    assert stored.last_used_at is not None


def test_a_counter_that_goes_backwards_is_refused() -> None:
    user = make_user()
    key = SoftAuthenticator()
    _registered(user, key)
    _sign_in(user, key, counter=5)
    with pytest.raises(PasskeyRefused, match="counter went backwards"):
        _sign_in(user, key, counter=3)


def test_the_same_counter_used_twice_is_refused_even_when_both_answers_were_verified() -> None:
    user = make_user()
    key = SoftAuthenticator()
    method = _registered(user, key)
    first = passkeys.Assertion(method.pk, key.credential_id_b64, 7)
    passkey_use_record(assertion=first)
    with pytest.raises(PasskeyRefused):
        passkey_use_record(assertion=first)


def test_an_answer_for_another_origin_is_refused_at_registration_and_at_sign_in() -> None:
    user = make_user()
    key = SoftAuthenticator()
    ceremony = passkeys.registration_begin(user=user, rp=RP)
    with pytest.raises(PasskeyRefused, match="another site"):
        passkeys.registration_finish(
            response=key.register(ceremony.options, origin="https://portal.example.net"),
            challenge=ceremony.challenge,
            rp=RP,
        )
    _registered(user, key)
    with pytest.raises(PasskeyRefused, match="another site"):
        _sign_in(user, key, origin="https://evil.example.org")


def test_an_authenticator_that_did_not_verify_the_person_is_refused() -> None:
    user = make_user()
    key = SoftAuthenticator(verifies_user=False)
    ceremony = passkeys.registration_begin(user=user, rp=RP)
    with pytest.raises(PasskeyRefused, match="PIN or fingerprint"):
        passkeys.registration_finish(
            response=key.register(ceremony.options, origin=ORIGIN),
            challenge=ceremony.challenge,
            rp=RP,
        )


def test_an_answer_to_an_old_challenge_is_refused() -> None:
    user = make_user()
    key = SoftAuthenticator()
    _registered(user, key)
    old = passkeys.authentication_begin(user=user, rp=RP)
    new = passkeys.authentication_begin(user=user, rp=RP)
    with pytest.raises(PasskeyRefused):
        passkeys.authentication_finish(
            user=user,
            response=key.sign_in(old.options, origin=ORIGIN),
            challenge=new.challenge,
            rp=RP,
        )


def test_a_deleted_passkey_is_refused() -> None:
    user = make_user(registered=True)
    key = SoftAuthenticator()
    method = _registered(user, key)
    assert verification_method_delete(user=user, method_id=method.pk, context=_context(user))
    with pytest.raises(PasskeyRefused, match="isn't registered"):
        _sign_in(user, key)


def test_someone_elses_passkey_is_refused() -> None:
    owner, other = make_user(), make_user()
    key = SoftAuthenticator()
    _registered(owner, key)
    with pytest.raises(PasskeyRefused, match="isn't registered"):
        _sign_in(other, key)


def test_a_garbled_answer_gets_a_clear_message() -> None:
    user = make_user()
    ceremony = passkeys.registration_begin(user=user, rp=RP)
    with pytest.raises(PasskeyRefused, match="could not be read"):
        passkeys.registration_finish(response="{not json", challenge=ceremony.challenge, rp=RP)


def test_registering_a_passkey_at_enrolment_makes_it_the_default_and_enforces_mfa() -> None:
    user = make_user(state=MfaState.ENABLED)
    key = SoftAuthenticator()
    ceremony = passkeys.registration_begin(user=user, rp=RP)
    new = passkeys.registration_finish(
        response=key.register(ceremony.options, origin=ORIGIN), challenge=ceremony.challenge, rp=RP
    )
    state = passkey_registration_save(user=user, passkey=new, name="", context=_context(user))
    mfa = UserMfa.objects.get(user=user)
    assert state == MfaState.ENFORCED
    assert mfa.default_method == "Passkey"


def test_a_passkey_is_renamed_only_by_its_owner() -> None:
    owner, other = make_user(), make_user()
    method = _registered(owner, SoftAuthenticator())
    assert not passkey_rename(user=other, method_id=method.pk, name="Mine", context=_context(other))
    assert passkey_rename(user=owner, method_id=method.pk, name="Desk key", context=_context(owner))
    method.refresh_from_db()
    assert method.device_name == "Desk key"


def test_the_same_authenticator_is_offered_as_excluded_when_registering_again() -> None:
    user = make_user()
    key = SoftAuthenticator()
    _registered(user, key)
    options = passkeys.registration_begin(user=user, rp=RP).options
    assert key.credential_id_b64 in options
    assert '"userVerification": "required"' in options


@override_settings(
    MFAPORTAL_WEBAUTHN_RP_ID="example.com", MFAPORTAL_WEBAUTHN_ORIGINS=["https://id.example.com"]
)
def test_the_relying_party_comes_from_the_settings_when_set() -> None:
    rp = passkeys.relying_party(host="portal.example.com:8443", scheme="https")
    assert (rp.id, rp.origins) == ("example.com", ("https://id.example.com",))


def test_the_relying_party_is_the_requests_host_without_settings() -> None:
    rp = passkeys.relying_party(host="localhost:8000", scheme="http")
    assert (rp.id, rp.origins) == ("localhost", ("http://localhost:8000",))


def test_the_history_says_what_happened_to_a_passkey_in_sentences() -> None:
    user = make_user(registered=True)
    method = _registered(user, SoftAuthenticator(), name="Laptop")
    passkey_rename(user=user, method_id=method.pk, name="Desk key", context=_context(user))
    verification_method_delete(user=user, method_id=method.pk, context=_context(user))
    sentences = [str(event_sentence(e)) for e in AuditEvent.objects.order_by("id")]
    assert sentences[-3:] == [
        "Security key or passkey registered.",
        "Security key or passkey changed from Laptop to Desk key.",
        "Security key or passkey deleted.",
    ]
