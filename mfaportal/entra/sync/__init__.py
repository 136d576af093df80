"""Sync the cache from Microsoft Graph: users, admin roles, per-user MFA state, methods.

A **full** sync reads every user through ``/users/delta`` without a token (which also yields
the first deltaLink), removes cached users Graph no longer lists, reads the admin roles, every
user's per-user MFA state (beta ``requirements`` through ``$batch``) and the registration
report, reading a user's methods only where the report says they may have changed.

A **delta** sync follows the stored deltaLink: added, changed and removed users, the admin
roles, and state and methods of the users that changed. Graph does not report per-user MFA
state or method changes through ``/users/delta``, so changes made outside the portal reach
the cache with the next full sync (schedule one nightly).

Everything is streamed: each page of users or of the report is written as it arrives and
per-user calls run a few batches at a time (``MFAPORTAL_GRAPH_CONCURRENCY``), so memory
stays flat whatever the size of the tenant. The deltaLink is stored only after every page
and every stage has been applied; a run that fails leaves the previous one in place.

The stages (``users``, ``roles``, ``states``, ``methods``) read Graph and hand what they
read on: users and roles to ``mfaportal.directory.cache``, state and methods to
``mfaportal.mfa.services.reconcile``; ``run`` orders them, ``status`` keeps the lock, the
status row and the progress.
"""

from mfaportal.entra.sync.run import directory_sync
from mfaportal.entra.sync.status import (
    KIND_LABELS,
    STAGE_LABELS,
    SyncBusy,
    SyncFailed,
    SyncResult,
    sync_is_running,
)
from mfaportal.entra.sync.users import user_refresh

__all__ = [
    "KIND_LABELS",
    "STAGE_LABELS",
    "SyncBusy",
    "SyncFailed",
    "SyncResult",
    "directory_sync",
    "sync_is_running",
    "user_refresh",
]
