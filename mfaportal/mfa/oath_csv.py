"""The hardware OATH token file, in Entra's format (issue 16.3):
``upn,serial number,secret key,time interval,manufacturer,model``.

Read as the bulk update file is (``bulk_csv``: line by line, at most 5 MB and 100,000
tokens, UTF-8 with or without BOM), and every bad line named with its number and reason.
An empty ``upn`` uploads the token unassigned. The secret key is base32, as Microsoft asks.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field, replace

from django.utils.translation import gettext as _

from mfaportal.mfa.bulk_csv import (
    BulkRowError,
    Source,
    _records,
    _Refused,
    _unknown,
    _user_ids,
)
from mfaportal.mfa.totp import secret_normalise

HEADER = ("upn", "serial number", "secret key", "time interval", "manufacturer", "model")
INTERVALS = (30, 60)
FIELD_MAX = 64
# RFC 4226 asks for keys of at least 128 bits; Entra's sample keys are 160.
SECRET_MIN_BYTES = 16
SECRET_MAX_CHARS = 128


@dataclass(frozen=True)
class TokenRow:
    line: int
    upn: str
    serial_number: str
    secret: str  # base32, normalised
    time_interval: int
    manufacturer: str
    model: str
    user_id: int | None


@dataclass
class TokenFile:
    rows: list[TokenRow] = field(default_factory=list)
    errors: list[BulkRowError] = field(default_factory=list)
    fatal: str = ""


def _header_refusal(header: list[str]) -> str:
    if tuple(cell.strip().lower() for cell in header) != HEADER:
        return _('The first line must be the header "%(header)s". It is "%(found)s".') % {
            "header": ",".join(HEADER),
            "found": ",".join(header)[:200],
        }
    return ""


def secret_valid(secret: str) -> bool:
    """Base32 (padding optional) of at least 128 bits."""
    if not secret or len(secret) > SECRET_MAX_CHARS:
        return False
    try:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        return False
    return len(key) >= SECRET_MIN_BYTES


def _row_error(cells: list[str]) -> str:
    _upn, serial, secret, interval, manufacturer, model = (cell.strip() for cell in cells)
    if not serial:
        return _("The serial number is empty.")
    if any(len(value) > FIELD_MAX for value in (serial, manufacturer, model)):
        return _("Serial number, manufacturer and model take at most %(count)d characters.") % {
            "count": FIELD_MAX
        }
    if not secret_valid(secret_normalise(secret)):
        return _(
            "The secret key must be base32 (letters A to Z and digits 2 to 7) of at least 128 bits."
        )
    if interval not in {str(seconds) for seconds in INTERVALS}:
        return _('"%(value)s" is not a time interval. Use 30 or 60 (seconds).') % {
            "value": interval[:20]
        }
    return ""


def token_file_parse(data: Source, *, known_serials: set[str]) -> TokenFile:
    """Check every line of a token file. ``known_serials``: serial numbers (lower case)
    already uploaded, which a line may not repeat."""
    result = TokenFile()
    wanted: list[TokenRow] = []
    seen: dict[str, int] = {}
    try:
        for line, cells in _records(data, _header_refusal):
            if isinstance(cells, BulkRowError):
                result.errors.append(cells)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            serial = cells[1].strip() if len(cells) > 1 else ""
            if len(cells) != len(HEADER):
                result.errors.append(
                    BulkRowError(
                        line,
                        serial,
                        _(
                            "Expected six values: upn, serial number, secret key, time "
                            "interval, manufacturer, model."
                        ),
                    )
                )
                continue
            if reason := _row_error(cells):
                result.errors.append(BulkRowError(line, serial, reason))
                continue
            key = serial.lower()
            if key in seen:
                result.errors.append(
                    BulkRowError(
                        line,
                        serial,
                        _("Duplicate: this serial number is already on line %(line)d.")
                        % {"line": seen[key]},
                    )
                )
                continue
            seen[key] = line
            if key in known_serials:
                result.errors.append(
                    BulkRowError(
                        line,
                        serial,
                        _("A token with this serial number is already uploaded. Delete it first."),
                    )
                )
                continue
            wanted.append(
                TokenRow(
                    line=line,
                    upn=cells[0].strip(),
                    serial_number=serial,
                    secret=secret_normalise(cells[2]),
                    time_interval=int(cells[3].strip()),
                    manufacturer=cells[4].strip(),
                    model=cells[5].strip(),
                    user_id=None,
                )
            )
    except _Refused as refused:
        return TokenFile(fatal=refused.message)
    ids = _user_ids([row.upn for row in wanted if row.upn])
    for row in wanted:
        if not row.upn:
            result.rows.append(row)
            continue
        found = ids.get(row.upn.lower())
        if found is None:
            error = _unknown(row.line, row.upn)
            result.errors.append(BulkRowError(row.line, row.serial_number, error.reason))
        else:
            result.rows.append(replace(row, user_id=found))
    result.errors.sort(key=lambda error: error.line)
    return result
