"""The Directory: where the truth about users lives.

Services decide *what* changes (the state rules, permissions, audit); a Directory carries a
change to the directory of record. In ``local`` mode the database is the directory and the
change is written at once; in ``graph`` mode it goes to Microsoft Graph. Pages, the CSV bulk
update, the CLI and sync all reach the directory through this one interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from mfaportal.core.audit import ChangeContext


class Directory(Protocol):
    """``context`` says who asked (the graph directory keeps it with each queued change)."""

    name: str

    def mfa_states_write(
        self, *, user_ids: Sequence[int], state: int, context: ChangeContext | None = None
    ) -> None:
        """Set the per-user MFA state (a ``MfaState`` value) of these users."""

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> None:
        """Delete the users' phone, authenticator app and OATH methods."""

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> None:
        """Make every remembered-device token issued before ``at`` stop working."""

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> None:
        """Sign the users out of every session."""


DIRECTORIES = {
    "local": "mfaportal.directory.local.LocalDirectory",
    "graph": "mfaportal.directory.graph.GraphDirectory",
}


def get_directory() -> Directory:
    directory: Directory = import_string(DIRECTORIES[settings.MFAPORTAL_DIRECTORY])()
    return directory
