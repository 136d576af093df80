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
from collections.abc import Mapping, Sequence
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


class Directory(Protocol):
    """``context`` says who asked (the graph directory keeps it with each queued change)."""

    name: str

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


DIRECTORIES = {
    "local": "mfaportal.directory.local.LocalDirectory",
    "graph": "mfaportal.entra.directory.GraphDirectory",
}


def get_directory() -> Directory:
    directory: Directory = import_string(DIRECTORIES[directory_mode()])()
    return directory
