"""RFC 6238 time-based one-time passwords: keys, codes, the otpauth URI and its QR code.

pyotp computes the codes; this module adds what a server needs around it: keys encrypted
at rest (bound to the user by AES-GCM associated data), a ±1 step window, and the step
number of a match so the caller can refuse a replay (``VerificationMethod.last_used_step``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pyotp
import segno
from django.conf import settings

from mfaportal.mfa.crypto import decrypt_secret, encrypt_secret

PERIOD = 30
DIGITS = 6
WINDOW = 1  # accept the previous and the next step too (clock drift of up to 30 s)
DIGESTS: dict[str, Callable[..., Any]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}


def secret_generate() -> str:
    """A new 160-bit key, base32 (what authenticator apps expect)."""
    return pyotp.random_base32(32)


def secret_normalise(typed: str) -> str:
    """Keys are case-insensitive and spaces are optional, as authenticator apps accept."""
    return "".join(typed.split()).upper()


def secret_display(secret: str) -> str:
    """The manual-entry key in groups of four, easier to type."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def secret_seal(secret: str, *, object_id: str) -> tuple[bytes, str]:
    return encrypt_secret(secret.encode(), associated_data=object_id.encode())


def secret_open(ciphertext: bytes | memoryview | None, *, key_id: str, object_id: str) -> str:
    if ciphertext is None:
        raise ValueError("no key stored")
    return decrypt_secret(
        bytes(ciphertext), key_id=key_id, associated_data=object_id.encode()
    ).decode()


def current_step(now: float | None = None, *, period: int = PERIOD) -> int:
    return int((time.time() if now is None else now) // period)


def code_at(
    secret: str,
    *,
    step: int,
    digits: int = DIGITS,
    algorithm: str = "SHA1",
    period: int = PERIOD,
) -> str:
    return pyotp.TOTP(
        secret, digits=digits, digest=DIGESTS[algorithm], interval=period
    ).generate_otp(step)


def matching_step(
    secret: str,
    code: str,
    *,
    now: float | None = None,
    after_step: int | None = None,
    period: int = PERIOD,
) -> int | None:
    """The time step within ±1 of now whose code equals ``code``, newer than
    ``after_step`` (the last one accepted), or None. ``period``: 30 s for apps, 30 or 60 s
    for a hardware token."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    centre = current_step(now, period=period)
    found = None
    for step in range(centre - WINDOW, centre + WINDOW + 1):
        # Compare every candidate (constant work whichever matches).
        if pyotp.utils.strings_equal(code_at(secret, step=step, period=period), code) and (
            after_step is None or step > after_step
        ):
            found = step
    return found


def provisioning_uri(secret: str, *, account_name: str) -> str:
    """The standard ``otpauth://totp/`` URI (Google Authenticator key-URI format)."""
    issuer = issuer_name()
    label = quote(f"{issuer}:{account_name}", safe="@:")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


def issuer_name() -> str:
    return f"MFA Portal ({settings.MFAPORTAL_TENANT_NAME})"


QR_SCALE = 4
QR_ERROR = "m"


def qr_svg(uri: str, *, title: str) -> str:
    """The URI as an inline SVG QR code (no style attributes, so the CSP allows it)."""
    svg = segno.make(uri, error=QR_ERROR, micro=False).svg_inline(
        scale=QR_SCALE,
        title=title,
        svgclass="qr-code",
        lineclass="qr-line",
        dark="#000",
        light="#fff",
    )
    return svg.replace("<svg ", '<svg role="img" ', 1)
