"""The bulk update file: ``Username,MFA Status`` (DESIGN §4.3).

Verification reads the whole file and names every bad line with its number and reason;
nothing is applied from a file that cannot be read at all (not UTF-8, no header, empty,
too large). Valid rows can then be applied even where others failed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState

MAX_BYTES = 5 * 1024 * 1024
HEADER = ("username", "mfa status")


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

    @property
    def ok(self) -> bool:
        return not self.fatal


def bulk_file_parse(data: bytes) -> BulkFile:
    if len(data) > MAX_BYTES:
        return BulkFile(fatal=_("The file is larger than 5 MB. Split it into smaller files."))
    if not data.strip():
        return BulkFile(fatal=_("The file is empty."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return BulkFile(
            fatal=_("The file is not UTF-8 text (byte %(position)d). Save it as CSV UTF-8.")
            % {"position": error.start + 1}
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return BulkFile(fatal=_("The file is empty."))
    if tuple(cell.strip().lower() for cell in header[:2]) != HEADER or any(
        cell.strip() for cell in header[2:]
    ):
        return BulkFile(
            fatal=_('The first line must be the header "Username,MFA Status". It is "%(found)s".')
            % {"found": ",".join(header)[:200]}
        )

    result = BulkFile()
    wanted: list[tuple[int, str, MfaState]] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            username = cells[0].strip() if cells else ""
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
                result.errors.append(
                    BulkRowError(
                        line,
                        username,
                        _("Duplicate: this user is already on line %(line)d.")
                        % {"line": seen[key]},
                    )
                )
                continue
            seen[key] = line
            wanted.append((line, username, state))
    except csv.Error as error:
        return BulkFile(fatal=_("The file is not valid CSV: %(error)s") % {"error": error})

    ids: dict[str, int] = {}
    keys = [username.lower() for _line, username, _state in wanted]
    for chunk in chunked(keys):
        for upn_lower, user_id in (
            DirectoryUser.objects.annotate(upn_lower=Lower("user_principal_name"))
            .filter(upn_lower__in=chunk)
            .values_list("upn_lower", "id")
        ):
            ids[upn_lower] = user_id
    for line, username, state in wanted:
        found = ids.get(username.lower())
        if found is None:
            result.errors.append(
                BulkRowError(line, username, _("User does not exist in this directory."))
            )
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


def users_file_parse(data: bytes) -> UsersFile:
    """A file of users for a command that needs no value per user (``mfa reset-methods
    --csv``): a ``Username`` column first (other columns, such as a bulk update file's
    ``MFA Status``, are read past). Every bad line is named; the good ones can be applied."""
    if len(data) > MAX_BYTES:
        return UsersFile(fatal=_("The file is larger than 5 MB. Split it into smaller files."))
    if not data.strip():
        return UsersFile(fatal=_("The file is empty."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return UsersFile(
            fatal=_("The file is not UTF-8 text (byte %(position)d). Save it as CSV UTF-8.")
            % {"position": error.start + 1}
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return UsersFile(fatal=_("The file is empty."))
    if not header or header[0].strip().lower() != HEADER[0]:
        return UsersFile(
            fatal=_('The first column must be headed "Username". The first line is "%(found)s".')
            % {"found": ",".join(header)[:200]}
        )
    result = UsersFile()
    wanted: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        for cells in reader:
            line = reader.line_num
            username = cells[0].strip() if cells else ""
            if not username:
                if any(cell.strip() for cell in cells):
                    result.errors.append(BulkRowError(line, "", _("The user name is empty.")))
                continue
            key = username.lower()
            if key in seen:
                result.errors.append(
                    BulkRowError(
                        line,
                        username,
                        _("Duplicate: this user is already on line %(line)d.")
                        % {"line": seen[key]},
                    )
                )
                continue
            seen[key] = line
            wanted.append((line, username))
    except csv.Error as error:
        return UsersFile(fatal=_("The file is not valid CSV: %(error)s") % {"error": error})
    ids = _user_ids([username for _line, username in wanted])
    for line, username in wanted:
        found = ids.get(username.lower())
        if found is None:
            result.errors.append(
                BulkRowError(line, username, _("User does not exist in this directory."))
            )
        else:
            result.rows.append(UserRow(line, username, found))
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
