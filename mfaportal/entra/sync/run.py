"""One sync run from start to finish: the stages in order, a full resync when Graph no
longer knows the stored delta token, and the status row kept true whatever stops it."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

from django.db import connection

from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.models import DirectorySyncState
from mfaportal.entra.sync.methods import methods_full, methods_of
from mfaportal.entra.sync.roles import roles_stage
from mfaportal.entra.sync.states import all_users, states_stage, users_by_object_id
from mfaportal.entra.sync.status import (
    Progress,
    Run,
    SyncBusy,
    SyncFailed,
    SyncResult,
    failure_message,
    failure_record,
    lock_acquire,
    success_record,
)
from mfaportal.entra.sync.users import users_stage
from mfaportal.graph import (
    DeltaTokenExpired,
    GraphClient,
    GraphError,
    ReadAhead,
    client_from_settings,
)

logger = logging.getLogger(__name__)

# Report pages read ahead of the methods stage (a page holds up to 1,000 users).
REPORT_PAGES_AHEAD = 200


def directory_sync(
    *,
    full: bool = False,
    client: GraphClient | None = None,
    progress: Progress | None = None,
    requested_by: str = "",
) -> SyncResult:
    """Run a sync now (delta when a deltaLink is stored and ``full`` is not asked for).

    Raises SyncBusy when another run holds the lock and SyncFailed when Graph could not be
    read (the error is also kept in the sync status for the admin page).
    """
    stored_link = "" if full else DirectorySyncState.load().delta_link
    kind = "delta" if stored_link else "full"
    if not lock_acquire(kind):
        raise SyncBusy("a directory sync is already running")
    started = time.monotonic()
    result = SyncResult(kind=kind)
    try:
        run = Run(client or client_from_settings(), result, progress)
        try:
            with _bulk_write_tuning():
                new_link = _execute(run, stored_link)
        except DeltaTokenExpired as expired:
            logger.warning("delta token no longer valid (%s): running a full sync", expired.code)
            DirectorySyncState.objects.filter(pk=1).update(delta_link="", run_kind="full")
            result = SyncResult(kind="full")
            result.notes.append(f"the stored delta token was refused ({expired.code}): full sync")
            run = Run(run.client, result, progress)
            with _bulk_write_tuning():
                new_link = _execute(run, "")
    except BaseException as error:  # the lock must not outlive the run, whatever stopped it
        result.seconds = time.monotonic() - started
        failure_record(result, error, requested_by)
        if isinstance(error, GraphError | ValueError):
            raise SyncFailed(failure_message(error)) from error
        raise
    result.seconds = time.monotonic() - started
    success_record(result, new_link, requested_by)
    return result


def _execute(run: Run, delta_link: str) -> str:
    full = not delta_link
    changed: list[str] | None = None if full else []
    if full:
        # The registration report is paced to Microsoft's 5 requests per 10 s, which makes
        # it the slowest read of a big tenant (100 pages: over three minutes): it is read in
        # the background from the start, while the other stages run.
        report = ReadAhead(run.client.registration_details(), depth=REPORT_PAGES_AHEAD)
        try:
            new_link = users_stage(run, delta_link, changed)
            roles_stage(run)
            states_stage(run, all_users(), DirectoryUser.objects.count())
            methods_full(run, report)
        finally:
            report.close()
        return new_link
    new_link = users_stage(run, delta_link, changed)
    roles_stage(run)
    assert changed is not None
    users = list(users_by_object_id(changed))
    states_stage(run, iter(users), len(users))
    methods_of(run, users)
    return new_link


@contextlib.contextmanager
def _bulk_write_tuning() -> Iterator[None]:
    """SQLite only: a larger page cache and fewer WAL checkpoints while a sync writes 100k
    rows into a table with a dozen indexes (measured: a third off the users stage). Both are
    settings of this connection, put back afterwards; durability is unchanged."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_size = cursor.fetchone()[0]
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -65536")  # KiB: 64 MiB
        cursor.execute("PRAGMA wal_autocheckpoint = 20000")  # pages: about 80 MiB of WAL
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")
