"""Waiting for Graph's answers to given changes: what a command line does where the page
would show them as pending.

``Set-MsolUser``, which ``manage.py mfa set-state`` stands in for, returned when the
directory had the change; so this sends the changes in this process (no task worker needed)
and waits until Graph has accepted or refused each, sending again after Graph's Retry-After
and the outbox's back-off, up to a time limit. A worker sending the same changes meanwhile
is harmless: a change is claimed by one sender at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from mfaportal.core.chunks import chunked
from mfaportal.directory.interface import Settlement, SettleProgress
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox.deliver import outbox_deliver
from mfaportal.graph import GraphClient

Status = OutboxChange.Status
DEFAULT_TIMEOUT = timedelta(minutes=15)


def _latest_changes(user_ids: Sequence[int], since: datetime) -> list[OutboxChange]:
    """The latest change of each kind for each of these users, recorded since ``since``."""
    latest: list[int] = []
    for chunk in chunked(user_ids):
        latest += [
            row["last"]
            for row in OutboxChange.objects.filter(user_id__in=chunk, created_at__gte=since)
            .values("user_id", "kind")
            .annotate(last=Max("pk"))
        ]
    changes: list[OutboxChange] = []
    for chunk in chunked(latest):
        changes += list(OutboxChange.objects.filter(pk__in=chunk))
    return changes


def _settlement(changes: list[OutboxChange]) -> Settlement:
    settlement = Settlement()
    for change in changes:
        assert change.user_id is not None
        if change.status == Status.FAILED:
            reason = f"{change.graph_status or '-'} {change.graph_error_code}: {change.last_error}"
            settlement.refused.setdefault(change.user_id, reason.strip())
        elif change.status in OutboxChange.OPEN_STATUSES:
            settlement.waiting.add(change.user_id)
        elif change.status == Status.SUPERSEDED:
            settlement.waiting.add(change.user_id)  # a newer change for them is on its way
    for user_id in {change.user_id for change in changes if change.user_id is not None}:
        if user_id not in settlement.refused and user_id not in settlement.waiting:
            settlement.accepted.add(user_id)
    settlement.waiting -= set(settlement.refused)
    return settlement


def changes_settle(
    *,
    user_ids: Sequence[int],
    since: datetime,
    wait: bool = True,
    progress: SettleProgress | None = None,
    timeout: timedelta = DEFAULT_TIMEOUT,
    client: GraphClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Settlement:
    changes = _latest_changes(user_ids, since)
    total = len(changes)

    def finished() -> int:
        return sum(1 for change in changes if change.status not in OutboxChange.OPEN_STATUSES)

    if progress is not None:
        progress(finished(), total)
    give_up_at = timezone.now() + timeout
    while wait:
        open_ids = [c.pk for c in changes if c.status in OutboxChange.OPEN_STATUSES]
        if not open_ids:
            break
        outbox_deliver(change_ids=open_ids, client=client)
        changes = _latest_changes(user_ids, since)
        if progress is not None:
            progress(finished(), total)
        still_open = [c for c in changes if c.status in OutboxChange.OPEN_STATUSES]
        if not still_open:
            break
        now = timezone.now()
        if now >= give_up_at:
            break
        due = min(c.next_attempt_at for c in still_open)
        # Graph asked to wait (Retry-After), or the outbox backs off: wait until then.
        sleep(max(0.5, min((due - now).total_seconds(), (give_up_at - now).total_seconds())))
    return _settlement(changes)
