"""The bulk update file: ``Username,MFA Status`` (DESIGN §4.3).

Verification reads the file line by line, never whole, and names every bad line with its
number and reason; nothing is applied from a file that cannot be read at all (not UTF-8, no
header, no users, too large). Valid rows can then be applied even where others failed.

A line is a user: a quote that opens a value and does not close it on the same line is an
error on that line, not the start of a value that swallows the lines after it (no user name
or status holds a line break).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db.models.functions import Lower
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState

MAX_BYTES = 5 * 1024 * 1024
# Users (non-blank lines after the header) in one file: the bulk update page states it.
MAX_USERS = 100_000
HEADER = ("username", "mfa status")

Source = bytes | IO[bytes]


def file_too_large_message() -> str:
    return _("The file is larger than 5 MB. Split it into smaller files.")


def too_many_users_message() -> str:
    return _("The file has more than %(count)s users. Split it into smaller files.") % {
        "count": number_format(MAX_USERS, force_grouping=True)
    }


def source_size(source: Source) -> int:
    """The file's size in bytes, read without reading the file."""
    if isinstance(source, bytes):
        return len(source)
    position = source.tell()
    size = source.seek(0, io.SEEK_END)
    source.seek(position)
    return size


@dataclass(frozen=True)
class BulkRow:
    line: int
    username: str
    state: MfaState
    user_id: int


@dataclass(frozen=True)
class BulkRowError:
    line: int
    username: str
    reason: str


@dataclass
class BulkFile:
    rows: list[BulkRow] = field(default_factory=list)
    errors: list[BulkRowError] = field(default_factory=list)
    # A reason the whole file was refused (nothing in it can be applied).
    fatal: str = ""
    # Refused for its size (bytes or users): the caller keeps nothing of it.
    too_large: bool = False

    @property
    def ok(self) -> bool:
        return not self.fatal


class _Refused(Exception):
    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


def _lines(source: Source) -> Iterator[tuple[int, str]]:
    """Each line of the file with its number (from 1), decoded, without its line ending.

    A line ends at CRLF, LF or a lone CR, as spreadsheets write them; the file is read a line
    at a time."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    offset = 0
    number = 0
    for chunk in stream:
        for raw in chunk.splitlines(keepends=True):
            if b"\x00" in raw:
                # Spreadsheets save UTF-16 with NUL bytes; PostgreSQL would also refuse them.
                raise _Refused(
                    _("The file is not UTF-8 text (it holds NUL bytes). Save it as CSV UTF-8.")
                )
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise _Refused(
                    _("The file is not UTF-8 text (byte %(position)d). Save it as CSV UTF-8.")
                    % {"position": offset + error.start + 1}
                ) from None
            if number == 0:
                text = text.removeprefix("\ufeff")
            offset += len(raw)
            number += 1
            yield number, text.rstrip("\r\n")


class _OpenQuote(Exception):
    pass


def _cells(text: str, line: int) -> list[str]:
    """The values of one line. A quoted value must close on its line: read past the line's
    end, it would hold the line break, which is how an unclosed quote shows."""
    try:
        cells = next(csv.reader([text + "\n"]), [])
    except csv.Error as error:
        raise _Refused(
            _("The file is not valid CSV (line %(line)d): %(error)s")
            % {"line": line, "error": error}
        ) from None
    if any("\n" in cell for cell in cells):
        raise _OpenQuote
    return cells


def _open_quote_error(line: int, text: str) -> BulkRowError:
    return BulkRowError(
        line,
        text.strip()[:100],
        _(
            'A quote (") opens a value that does not end on this line. Remove it, or close '
            "the value with another quote."
        ),
    )


def _records(
    source: Source, header_refusal: Callable[[list[str]], str]
) -> Iterator[tuple[int, list[str] | BulkRowError]]:
    """The file's user lines after its header: (line, values) or (line, the line's error).

    Raises ``_Refused`` for a file that cannot be used at all: too large, empty, not UTF-8,
    a wrong header, no users."""
    if source_size(source) > MAX_BYTES:
        raise _Refused(file_too_large_message(), too_large=True)
    lines = _lines(source)
    header_line = next(lines, None)
    if header_line is None:
        raise _Refused(_("The file is empty."))
    number, text = header_line
    if not text.strip():
        if not any(rest.strip() for _number, rest in lines):
            raise _Refused(_("The file is empty."))
        header = [""]
    else:
        try:
            header = _cells(text, number)
        except _OpenQuote:
            header = [text]
    refusal = header_refusal(header)
    if refusal:
        raise _Refused(refusal)
    users = 0
    for number, text in lines:
        if not text.strip():
            continue
        users += 1
        if users > MAX_USERS:
            raise _Refused(too_many_users_message(), too_large=True)
        try:
            yield number, _cells(text, number)
        except _OpenQuote:
            yield number, _open_quote_error(number, text)
    if not users:
        raise _Refused(_("The file has no users. After the header line, write one user a line."))


def _bulk_header_refusal(header: list[str]) -> str:
    if tuple(cell.strip().lower() for cell in header[:2]) != HEADER or any(
        cell.strip() for cell in header[2:]
    ):
        return _('The first line must be the header "Username,MFA Status". It is "%(found)s".') % {
            "found": ",".join(header)[:200]
        }
    return ""


def _duplicate(line: int, username: str, first: int) -> BulkRowError:
    return BulkRowError(
        line,
        username,
        _("Duplicate: this user is already on line %(line)d.") % {"line": first},
    )


def _unknown(line: int, username: str) -> BulkRowError:
    return BulkRowError(line, username, _("User does not exist in this directory."))


def bulk_file_parse(data: Source) -> BulkFile:
    """Check every line of a bulk update file (bytes, or a binary file read line by line)."""
    result = BulkFile()
    wanted: list[tuple[int, str, MfaState]] = []
    seen: dict[str, int] = {}
    try:
        for line, cells in _records(data, _bulk_header_refusal):
            if isinstance(cells, BulkRowError):
                result.errors.append(cells)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            username = cells[0].strip()
            if len(cells) < 2 or any(cell.strip() for cell in cells[2:]):
                result.errors.append(
                    BulkRowError(
                        line, username, _("Expected two values: user name and MFA status.")
                    )
                )
                continue
            if not username:
                result.errors.append(BulkRowError(line, username, _("The user name is empty.")))
                continue
            try:
                state = MfaState.parse(cells[1])
            except ValueError:
                result.errors.append(
                    BulkRowError(
                        line,
                        username,
                        _('"%(value)s" is not a status. Use Enabled, Enforced or Disabled.')
                        % {"value": cells[1].strip()[:50]},
                    )
                )
                continue
            key = username.lower()
            if key in seen:
                result.errors.append(_duplicate(line, username, seen[key]))
                continue
            seen[key] = line
            wanted.append((line, username, state))
    except _Refused as refused:
        return BulkFile(fatal=refused.message, too_large=refused.too_large)

    ids = _user_ids([username for _line, username, _state in wanted])
    for line, username, state in wanted:
        found = ids.get(username.lower())
        if found is None:
            result.errors.append(_unknown(line, username))
        else:
            result.rows.append(BulkRow(line, username, state, found))
    result.errors.sort(key=lambda error: error.line)
    return result


@dataclass(frozen=True)
class UserRow:
    line: int
    username: str
    user_id: int


@dataclass
class UsersFile:
    rows: list[UserRow] = field(default_factory=list)
    errors: list[BulkRowError] = field(default_factory=list)
    fatal: str = ""

    @property
    def ok(self) -> bool:
        return not self.fatal


def _users_header_refusal(header: list[str]) -> str:
    if not header or header[0].strip().lower() != HEADER[0]:
        return _('The first column must be headed "Username". The first line is "%(found)s".') % {
            "found": ",".join(header)[:200]
        }
    return ""


def users_file_parse(data: Source) -> UsersFile:
    """A file of users for a command that needs no value per user (``mfa reset-methods
    --csv``): a ``Username`` column first (other columns, such as a bulk update file's
    ``MFA Status``, are read past). Every bad line is named; the good ones can be applied."""
    result = UsersFile()
    wanted: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        for line, cells in _records(data, _users_header_refusal):
            if isinstance(cells, BulkRowError):
                result.errors.append(cells)
                continue
            username = cells[0].strip() if cells else ""
            if not username:
                if any(cell.strip() for cell in cells):
                    result.errors.append(BulkRowError(line, "", _("The user name is empty.")))
                continue
            key = username.lower()
            if key in seen:
                result.errors.append(_duplicate(line, username, seen[key]))
                continue
            seen[key] = line
            wanted.append((line, username))
    except _Refused as refused:
        return UsersFile(fatal=refused.message)
    ids = _user_ids([username for _line, username in wanted])
    for line, username in wanted:
        found = ids.get(username.lower())
        if found is None:
            result.errors.append(_unknown(line, username))
        else:
            result.rows.append(UserRow(line, username, found))
    result.errors.sort(key=lambda error: error.line)
    return result


def _user_ids(usernames: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in chunked([username.lower() for username in usernames]):
        for upn_lower, user_id in (
            DirectoryUser.objects.annotate(upn_lower=Lower("user_principal_name"))
            .filter(upn_lower__in=chunk)
            .values_list("upn_lower", "id")
        ):
            ids[upn_lower] = user_id
    return ids
