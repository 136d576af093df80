"""Reads of graph mode's records: what waits for Graph, and what Graph refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from mfaportal.core.chunks import chunked
from mfaportal.entra.models import OutboxChange

Status = OutboxChange.Status


@dataclass(frozen=True)
class OutboxSummary:
    pending: int
    failed_recently: int
    oldest_pending_at: datetime | None
    recent_failures: list[OutboxChange]


def outbox_summary(*, failures: int = 10, since: timedelta = timedelta(days=7)) -> OutboxSummary:
    """For the sync panel: how much is waiting, and what Graph refused lately."""
    open_changes = OutboxChange.objects.filter(status__in=OutboxChange.OPEN_STATUSES)
    recent = OutboxChange.objects.filter(
        status=Status.FAILED, done_at__gte=timezone.now() - since
    ).order_by("-done_at", "-pk")
    return OutboxSummary(
        pending=open_changes.count(),
        failed_recently=recent.count(),
        oldest_pending_at=open_changes.order_by("created_at")
        .values_list("created_at", flat=True)
        .first(),
        recent_failures=list(recent[:failures]),
    )


@dataclass(frozen=True)
class PendingChange:
    """A change the portal made that Graph has not accepted (pending) or refused (failed)."""

    kind: str
    status: str
    # For MFA state changes: the state asked for ("enabled", "enforced", "disabled").
    state: str
    created_at: Any
    attempts: int
    last_error: str
    graph_error_code: str

    @property
    def failed(self) -> bool:
        return self.status == "failed"


def pending_changes_for(user_ids: list[int]) -> dict[int, list[PendingChange]]:
    """Per user, the latest change of each kind still waiting for Graph or refused by it
    (a refusal stays shown until a later change of that kind is accepted)."""
    latest: dict[tuple[int, str], OutboxChange] = {}
    for chunk in chunked(user_ids):
        changes = (
            OutboxChange.objects.filter(user_id__in=chunk)
            .exclude(status=OutboxChange.Status.SUPERSEDED)
            .order_by("pk")
        )
        for change in changes:
            assert change.user_id is not None
            latest[(change.user_id, change.kind)] = change
    found: dict[int, list[PendingChange]] = {}
    for (user_id, kind), change in latest.items():
        if change.status not in (*OutboxChange.OPEN_STATUSES, OutboxChange.Status.FAILED):
            continue
        payload = change.payload if isinstance(change.payload, dict) else {}
        found.setdefault(user_id, []).append(
            PendingChange(
                kind=kind,
                status=change.status,
                state=str(payload.get("state", "")),
                created_at=change.created_at,
                attempts=change.attempts,
                last_error=change.last_error,
                graph_error_code=change.graph_error_code,
            )
        )
    return found
