"""A sync run's bookkeeping: the lock between processes, the status row the admin page
shows, the result counts, and the progress a run reports as it goes."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import reset_queries, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from mfaportal.core.audit import AuditEntry, audit_record_many
from mfaportal.entra.mapping import SYNC_CONTEXT
from mfaportal.entra.models import DirectorySyncState
from mfaportal.graph import (
    GraphClient,
    GraphError,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
)

logger = logging.getLogger(__name__)

# A run whose heartbeat is older than this died (killed worker, lost machine): take over.
STALE_AFTER = timedelta(minutes=15)
HEARTBEAT_SECONDS = 1.0
# A batch or page that still fails after the client's own retries (Graph asked for a longer
# wait than a request may take, or stayed unavailable) does not end the run: what was read
# is kept, and the failed part is tried again after Graph's Retry-After, a few times.
RESUME_ATTEMPTS = 3
RESUME_WAIT_DEFAULT = 30.0
RESUME_WAIT_CAP = 900.0

Progress = Callable[[str, int, int | None], None]

# What a running sync is reading ("Reading users…") and what kind of sync ran, as shown.
STAGE_LABELS = {
    "users": pgettext_lazy("sync stage", "users"),
    "roles": pgettext_lazy("sync stage", "admin roles"),
    "mfa_states": pgettext_lazy("sync stage", "MFA state"),
    "methods": pgettext_lazy("sync stage", "methods"),
}
KIND_LABELS = {
    "full": pgettext_lazy("sync kind", "full"),
    "delta": pgettext_lazy("sync kind", "delta"),
}


def resumable(error: BaseException | None) -> bool:
    """Graph could not answer now (throttled, unavailable, no answer in time): try later."""
    return isinstance(error, GraphThrottled | GraphUnavailable | GraphTimeout)


class SyncBusy(Exception):
    """Another sync holds the lock."""


class SyncFailed(Exception):
    """The sync stopped; the message is what the sync status shows."""


@dataclass
class SyncResult:
    kind: str
    seconds: float = 0.0
    users_seen: int = 0
    users_added: int = 0
    users_updated: int = 0
    users_removed: int = 0
    role_assignments: int = 0
    states_read: int = 0
    states_changed: int = 0
    methods_read: int = 0
    methods_changed: int = 0
    defaults_changed: int = 0
    # Per-item problems that did not stop the run, by stage and Graph error code.
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        found = [
            f"{STAGE_LABELS.get(stage, stage)}: {code} for {count:,}"
            for (stage, code), count in sorted(self.problems.items())
        ]
        return self.notes + found

    def counts(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seconds": round(self.seconds, 1),
            "users_seen": self.users_seen,
            "users_added": self.users_added,
            "users_updated": self.users_updated,
            "users_removed": self.users_removed,
            "role_assignments": self.role_assignments,
            "states_read": self.states_read,
            "states_changed": self.states_changed,
            "methods_read": self.methods_read,
            "methods_changed": self.methods_changed,
            "defaults_changed": self.defaults_changed,
        }

    def summary(self) -> str:
        warnings = self.warnings()
        return (
            f"{self.kind.capitalize()} sync finished in {self.seconds:.1f} s: "
            f"{self.users_seen:,} users read ({self.users_added:,} added, "
            f"{self.users_updated:,} updated, {self.users_removed:,} removed), "
            f"{self.role_assignments:,} admin role assignments, "
            f"MFA state read for {self.states_read:,} users ({self.states_changed:,} changed), "
            f"methods read for {self.methods_read:,} users ({self.methods_changed:,} changed), "
            f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}."
        )


class Run:
    """What every stage of one run shares: the client, the result, and progress."""

    def __init__(self, client: GraphClient, result: SyncResult, progress: Progress | None):
        self.client = client
        self.result = result
        self.progress = progress
        self.synced_at = timezone.now()
        self._last_beat = 0.0

    def report(self, stage: str, done: int, total: int | None, *, force: bool = False) -> None:
        # With DEBUG on, Django keeps every query's SQL: at 100k users that alone is
        # hundreds of megabytes. The sync never reads that log.
        reset_queries()
        if self.progress is not None:
            self.progress(stage, done, total)
        now = time.monotonic()
        if force or now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            DirectorySyncState.objects.filter(pk=1).update(
                stage=stage,
                progress_done=done,
                progress_total=total,
                heartbeat_at=timezone.now(),
            )

    def pause(self, error: BaseException | None) -> None:
        """Wait before trying a failed part again: Graph's Retry-After, within bounds."""
        retry_after = getattr(error, "retry_after", None)
        seconds = retry_after if isinstance(retry_after, int | float) else RESUME_WAIT_DEFAULT
        self.client.wait(min(max(seconds, 1.0), RESUME_WAIT_CAP))

    def problem(self, stage: str, error: GraphError) -> None:
        self.result.problems[(stage, f"{error.status or '-'} {error.code}")] += 1

    def problems(self, stage: str, error: GraphError, count: int) -> None:
        """One answer about many users (a 403 for a whole batch: a permission is missing)."""
        self.result.problems[(stage, f"{error.status or '-'} {error.code}")] += count


# --- the lock and the status row -------------------------------------------------------------


def lock_acquire(kind: str) -> bool:
    now = timezone.now()
    DirectorySyncState.load()
    taken = (
        DirectorySyncState.objects.filter(pk=1)
        .filter(Q(running_since__isnull=True) | Q(heartbeat_at__lt=now - STALE_AFTER))
        .update(
            running_since=now,
            heartbeat_at=now,
            status=DirectorySyncState.Status.RUNNING,
            run_kind=kind,
            stage="",
            progress_done=0,
            progress_total=None,
            last_started_at=now,
        )
    )
    return taken == 1


def sync_is_running() -> bool:
    state = DirectorySyncState.load()
    return state.running_since is not None and (
        state.heartbeat_at is not None and state.heartbeat_at >= timezone.now() - STALE_AFTER
    )


def failure_message(error: BaseException) -> str:
    if isinstance(error, GraphError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def success_record(result: SyncResult, delta_link: str, requested_by: str) -> None:
    now = timezone.now()
    times: dict[str, datetime] = (
        {"last_full_sync_at": now} if result.kind == "full" else {"last_delta_sync_at": now}
    )
    with transaction.atomic():
        DirectorySyncState.objects.filter(pk=1).update(
            delta_link=delta_link,
            status=DirectorySyncState.Status.SUCCEEDED,
            running_since=None,
            stage="",
            last_finished_at=now,
            last_counts=result.counts(),
            last_warnings=result.warnings(),
            last_error="",
            **times,
        )
        audit_record_many(
            SYNC_CONTEXT,
            [
                AuditEntry(
                    "directory.synced",
                    after=result.summary(),
                    detail={**result.counts(), "requested_by": requested_by},
                )
            ],
        )


def failure_record(result: SyncResult, error: BaseException, requested_by: str) -> None:
    now = timezone.now()
    message = failure_message(error)
    logger.error("directory sync failed: %s", message, exc_info=not isinstance(error, GraphError))
    DirectorySyncState.objects.filter(pk=1).update(
        status=DirectorySyncState.Status.FAILED,
        running_since=None,
        last_finished_at=now,
        last_counts=result.counts(),
        last_warnings=result.warnings(),
        last_error=message,
        last_error_at=now,
    )
    audit_record_many(
        SYNC_CONTEXT,
        [
            AuditEntry(
                "directory.sync_failed",
                after=message[:255],
                detail={**result.counts(), "error": message, "requested_by": requested_by},
            )
        ],
    )
