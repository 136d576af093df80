"""Secrets at rest and keyed hashes.

- TOTP keys are encrypted with AES-GCM; the key id is stored next to the ciphertext so keys
  can rotate (the first configured key encrypts, every configured key decrypts).
- App passwords, remembered-device tokens and one-time codes are stored as HMAC-SHA-256
  under a server key: high-entropy secrets need no slow hash, and one indexed look-up finds
  the row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


def _derive(purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        settings.SECRET_KEY.encode()
    )


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]


@cache
def _keyring(raw: str) -> Keyring:
    if not raw:
        return Keyring("d0", {"d0": _derive(b"mfaportal totp-at-rest v1")})
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in raw.split(","):
        kid, sep, encoded = item.strip().partition(":")
        if not sep:
            raise ImproperlyConfigured("MFAPORTAL_ENCRYPTION_KEYS entries look like kid:base64key")
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        if len(key) != 32:
            raise ImproperlyConfigured(f"Encryption key {kid!r} must be 32 bytes")
        keys[kid] = key
        order.append(kid)
    return Keyring(order[0], keys)


def keyring() -> Keyring:
    return _keyring(settings.MFAPORTAL_ENCRYPTION_KEYS)


def encrypt_secret(plaintext: bytes, *, associated_data: bytes) -> tuple[bytes, str]:
    """Encrypt under the current key; the associated data binds it to its row (the user)."""
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[ring.current_id]).encrypt(nonce, plaintext, associated_data)
    return nonce + sealed, ring.current_id


def decrypt_secret(ciphertext: bytes, *, key_id: str, associated_data: bytes) -> bytes:
    ring = keyring()
    if key_id not in ring.keys:
        raise ImproperlyConfigured(f"Encryption key {key_id!r} is no longer configured")
    data = bytes(ciphertext)
    return AESGCM(ring.keys[key_id]).decrypt(
        data[:NONCE_BYTES], data[NONCE_BYTES:], associated_data
    )


@cache
def _hmac_key(raw: str, secret_key: str) -> bytes:
    if raw:
        return raw.encode()
    return _derive(b"mfaportal keyed-hash v1")


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA-256 of a secret, hex; ``purpose`` separates app passwords from codes."""
    key = _hmac_key(settings.MFAPORTAL_HMAC_KEY, settings.SECRET_KEY)
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
