"""TOTP against RFC 6238's published vectors, the ±1 step window, and the QR code."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import segno

from mfaportal.mfa import totp

SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
# RFC 6238, Appendix B.
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("unix_time", "sha1", "sha256", "sha512"), VECTORS)
def test_codes_match_the_rfc_6238_test_vectors(
    unix_time: int, sha1: str, sha256: str, sha512: str
) -> None:
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        secret = base64.b32encode(SEEDS[algorithm]).decode()
        step = unix_time // 30
        assert totp.code_at(secret, step=step, digits=8, algorithm=algorithm) == expected


def test_six_digit_codes_are_the_last_six_digits_of_the_rfc_vectors() -> None:
    secret = base64.b32encode(SEEDS["SHA1"]).decode()
    for unix_time, sha1, _256, _512 in VECTORS:
        assert totp.code_at(secret, step=unix_time // 30) == sha1[-6:]
        assert totp.matching_step(secret, sha1[-6:], now=unix_time) == unix_time // 30


def test_a_code_from_the_step_before_or_after_is_accepted_but_not_two_away() -> None:
    secret = totp.secret_generate()
    now = 1_700_000_015.0
    step = int(now // 30)
    assert totp.matching_step(secret, totp.code_at(secret, step=step - 1), now=now) == step - 1
    assert totp.matching_step(secret, totp.code_at(secret, step=step + 1), now=now) == step + 1
    two_away = totp.code_at(secret, step=step - 2)
    if two_away not in {totp.code_at(secret, step=s) for s in (step - 1, step, step + 1)}:
        assert totp.matching_step(secret, two_away, now=now) is None


def test_a_step_at_or_before_the_last_used_one_does_not_match() -> None:
    secret = totp.secret_generate()
    now = 1_700_000_015.0
    step = int(now // 30)
    code = totp.code_at(secret, step=step)
    assert totp.matching_step(secret, code, now=now, after_step=step) is None
    assert totp.matching_step(secret, code, now=now, after_step=step - 1) == step


@pytest.mark.parametrize("junk", ["", "12345", "1234567", "abcdef", "12 34 5x"])
def test_malformed_codes_never_match(junk: str) -> None:
    assert totp.matching_step(totp.secret_generate(), junk) is None


def test_the_manual_key_is_case_insensitive_and_spaces_are_optional() -> None:
    secret = totp.secret_generate()
    assert totp.secret_normalise(totp.secret_display(secret).lower()) == secret


def svg_modules(svg: str) -> set[tuple[int, int]]:
    """The dark modules drawn by a segno SVG path (rows of horizontal runs)."""
    path = re.search(r'class="qr-line"[^>]* d="([^"]+)"', svg)
    assert path is not None
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    tokens = re.findall(r"[Mmh]|-?\d+(?:\.\d+)?", path.group(1))
    index = 0
    while index < len(tokens):
        command = tokens[index]
        if command == "M":
            x, y = float(tokens[index + 1]), float(tokens[index + 2])
            index += 3
        elif command == "m":
            x, y = x + float(tokens[index + 1]), y + float(tokens[index + 2])
            index += 3
        else:  # h
            length = int(float(tokens[index + 1]))
            dark.update((int(y), int(x) + i) for i in range(length))
            x += length
            index += 2
    return dark


def matrix_modules(qr: segno.QRCode, border: int = 4) -> set[tuple[int, int]]:
    return {
        (row + border, col + border)
        for row, values in enumerate(qr.matrix)
        for col, value in enumerate(values)
        if value
    }


def test_the_qr_code_carries_the_otpauth_uri_with_the_same_secret_as_the_manual_key() -> None:
    secret = totp.secret_generate()
    uri = totp.provisioning_uri(secret, account_name="adele@contoso.test")
    svg = totp.qr_svg(uri, title="QR")
    # The picture is exactly the QR symbol of this URI...
    assert svg_modules(svg) == matrix_modules(segno.make(uri, error=totp.QR_ERROR, micro=False))
    # ...and the URI is a standard otpauth://totp/ key URI whose secret is the manual key.
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert unquote(parsed.path) == "/MFA Portal (contoso.test):adele@contoso.test"
    assert query["secret"] == [secret] and query["issuer"] == ["MFA Portal (contoso.test)"]
    assert query["digits"] == ["6"] and query["period"] == ["30"] and query["algorithm"] == ["SHA1"]
    assert totp.secret_normalise(totp.secret_display(secret)) == query["secret"][0]


def test_the_qr_svg_has_no_inline_style_so_the_csp_allows_it() -> None:
    svg = totp.qr_svg(
        totp.provisioning_uri(totp.secret_generate(), account_name="a@b.c"), title="QR"
    )
    assert "style=" not in svg and 'role="img"' in svg and "<title>QR</title>" in svg
