"""The Directory: where the truth about users lives.

Services in ``mfa`` decide *what* changes (the state rules, permissions, audit) and record it
in the cache; a Directory carries the change to the directory of record and says whether it
is there now. In ``local`` mode the database is the directory, so every change is applied
the moment the service records it; in ``graph`` mode (``mfaportal.entra``) it is queued for
Microsoft Graph, and the cache is brought in line when Graph answers. Pages, the CSV bulk
update, the CLI and sync all reach the directory through this one interface.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.utils.module_loading import import_string

from mfaportal.core.audit import ChangeContext
from mfaportal.core.modes import directory_mode


class Delivery(enum.Enum):
    # The directory of record has the change now.
    APPLIED = "applied"
    # On its way (graph mode's outbox); the cache follows Graph's answer when it comes.
    QUEUED = "queued"


# What a directory of record may keep no part in: the portal's own record of it is all there
# is (``Directory.portal_only``).
APP_PASSWORDS = "app_passwords"
SERVICE_SETTINGS = "service_settings"
# An action the directory carries out its own way (``Directory.notes``).
REMEMBERED_DEVICES = "remembered_devices"


@dataclass
class Settlement:
    """Where changes stand with the directory of record, per user (``changes_settle``)."""

    accepted: set[int] = field(default_factory=set)
    # user id -> the directory's reason
    refused: dict[int, str] = field(default_factory=dict)
    # Not answered yet (still waiting when the wait ended, or not waited for).
    waiting: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class IssuedPass:
    """A Temporary Access Pass the directory of record issued (graph mode): the pass as its
    answer showed it, once, and what the directory made of the request."""

    value: str
    directory_id: str
    starts_at: datetime
    lifetime_minutes: int
    one_time: bool


class DirectoryRefused(Exception):
    """The directory of record refused a change made while the person waits (its reason)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# (done, total) while changes travel.
SettleProgress = Callable[[int, int], None]


class Directory(Protocol):
    """``context`` says who asked (the graph directory keeps it with each queued change)."""

    name: str
    # What the directory cannot be told, each with the sentence that says so: kept in this
    # portal only (Microsoft Graph has no app-password API, and Entra's legacy MFA service
    # settings are not in Graph).
    portal_only: Mapping[str, str]
    # What an admin should know of how the directory carries out an action.
    notes: Mapping[str, str]

    def security_info_url(self) -> str:
        """Where people manage their own sign-in methods when the directory keeps them and
        the portal cannot change them for it ('' when the portal's pages are the place)."""
        ...

    def remembered_devices_unreachable(self, *, user_ids: Sequence[int]) -> dict[int, str]:
        """Users whose remembered devices this directory cannot restore, with the reason."""
        ...

    def sessions_unreachable(self, *, user_ids: Sequence[int]) -> dict[int, str]:
        """Users whose sessions this directory cannot end, with the reason."""
        ...

    # Whether changes travel to the directory after the service records them (graph mode's
    # outbox): a command line then waits for the directory's answers (``changes_settle``).
    sends_changes: bool

    def changes_settle(
        self,
        *,
        user_ids: Sequence[int],
        since: datetime,
        wait: bool = True,
        progress: SettleProgress | None = None,
    ) -> Settlement:
        """Where the changes recorded for these users since ``since`` stand. With ``wait``,
        send them now and wait until the directory has accepted or refused each one."""
        ...

    def mfa_states_write(
        self,
        *,
        user_ids: Sequence[int],
        state: int,
        previous: Mapping[int, int],
        context: ChangeContext | None = None,
    ) -> Delivery:
        """Set the per-user MFA state (an ``MfaState`` value) of these users; ``previous``
        is each one's state before, to put back if the directory refuses."""
        ...

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        """Delete the users' phone, authenticator app and OATH methods."""
        ...

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> Delivery:
        """Make every remembered-device token issued before ``at`` stop working."""
        ...

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        """Sign the users out of every session."""
        ...

    def temporary_access_pass_issue(
        self,
        *,
        object_id: str,
        lifetime_minutes: int,
        one_time: bool,
        starts_at: datetime | None,
    ) -> IssuedPass | None:
        """Issue a Temporary Access Pass in the directory of record, now (the pass is shown
        to the person waiting, so it can't wait in an outbox); None when the portal is the
        directory and issues it itself. Raises ``DirectoryRefused``."""
        ...

    def temporary_access_pass_delete(self, *, object_id: str, directory_id: str) -> None:
        """Delete the pass the directory issued (nothing to do when the portal issued it).
        Raises ``DirectoryRefused``."""

    def passkey_delete(
        self, *, user_id: int, name: str, context: ChangeContext | None = None
    ) -> Delivery:
        """Delete the user's passkey or security key of this name (a lost key)."""
        ...


DIRECTORIES = {
    "local": "mfaportal.directory.local.LocalDirectory",
    "graph": "mfaportal.entra.directory.GraphDirectory",
}


def get_directory() -> Directory:
    directory: Directory = import_string(DIRECTORIES[directory_mode()])()
    return directory
