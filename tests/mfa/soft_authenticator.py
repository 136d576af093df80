"""A software WebAuthn authenticator for tests: answers the portal's options the way a
browser and a security key would (CTAP2 "none" attestation, ES256), so the server-side
checks run against real signatures. The browser tests use Chromium's virtual authenticator
instead."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import bytes_to_base64url

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import passkeys
from mfaportal.mfa.models import MethodType, UserMfa, VerificationMethod
from mfaportal.mfa.services.passkeys import passkey_add

UP, UV, AT = 0x01, 0x04, 0x40


class SoftAuthenticator:
    def __init__(self, *, aaguid: bytes = bytes(16), verifies_user: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.aaguid = aaguid
        self.verifies_user = verifies_user
        self.counter = 0

    @property
    def credential_id_b64(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def _flags(self, extra: int = 0) -> bytes:
        return bytes([UP | (UV if self.verifies_user else 0) | extra])

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    @staticmethod
    def _client_data(kind: str, options: dict[str, Any], origin: str) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": options["challenge"],
                "origin": origin,
                "crossOrigin": False,
            }
        ).encode()

    def register(self, options_json: str, *, origin: str) -> str:
        """What ``navigator.credentials.create`` would answer, as the page posts it."""
        options = json.loads(options_json)
        rp_id_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        auth_data = (
            rp_id_hash
            + self._flags(AT)
            + struct.pack(">I", self.counter)
            + self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options, origin)
        return json.dumps(
            {
                "id": self.credential_id_b64,
                "rawId": self.credential_id_b64,
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "attestationObject": bytes_to_base64url(attestation),
                    "transports": ["usb"],
                },
                "clientExtensionResults": {},
            }
        )

    def sign_in(self, options_json: str, *, origin: str, counter: int | None = None) -> str:
        """What ``navigator.credentials.get`` would answer; ``counter`` forces the value."""
        options = json.loads(options_json)
        self.counter = self.counter + 1 if counter is None else counter
        rp_id_hash = hashlib.sha256(options["rpId"].encode()).digest()
        auth_data = rp_id_hash + self._flags() + struct.pack(">I", self.counter)
        client_data = self._client_data("webauthn.get", options, origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": self.credential_id_b64,
                "rawId": self.credential_id_b64,
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data),
                    "signature": bytes_to_base64url(signature),
                    "userHandle": None,
                },
                "clientExtensionResults": {},
            }
        )


ORIGIN = "http://testserver"


def with_passkey(
    user: DirectoryUser, key: SoftAuthenticator, *, default: bool = True
) -> VerificationMethod:
    """The user has registered this authenticator (as the test client's site), and it is their
    default unless ``default`` is False."""
    rp = passkeys.relying_party(host="testserver", scheme="http")
    ceremony = passkeys.registration_begin(user=user, rp=rp)
    new = passkeys.registration_finish(
        response=key.register(ceremony.options, origin=ORIGIN), challenge=ceremony.challenge, rp=rp
    )
    method = passkey_add(
        user=user, passkey=new, name="", context=ChangeContext(None, AuditSource.SELF_SERVICE)
    )
    if default:
        UserMfa.objects.filter(user=user).update(default_method=MethodType.PASSKEY)
    return method
