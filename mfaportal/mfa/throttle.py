"""Failure counters and lockouts kept in the database, so every process sees the same.

Two shapes:

- per method (``VerificationMethod.failed_attempts`` / ``locked_until``): a few free
  mistakes, then an exponential lockout (1, 2, 4 ... minutes, at most an hour); a correct
  code resets it;
- per key (``ThrottleBucket``): a fixed window counting failures or sends for a user or an
  address (the legacy endpoint, code requests), blocked for a while once over the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import ngettext

from mfaportal.mfa.models import ThrottleBucket, VerificationMethod

FREE_FAILURES = 5
FIRST_LOCK = timedelta(minutes=1)
LONGEST_LOCK = timedelta(hours=1)


def lock_duration(failures: int) -> timedelta:
    """How long the ``failures``-th consecutive failure locks the method (0 before the 5th)."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** (failures - FREE_FAILURES), LONGEST_LOCK)


def seconds_left(until: datetime | None, now: datetime | None = None) -> int:
    if until is None:
        return 0
    left = (until - (now or timezone.now())).total_seconds()
    return max(0, math.ceil(left))


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "You've entered too many incorrect codes. Try again in %(minutes)d minute, or sign in another way.",
        "You've entered too many incorrect codes. Try again in %(minutes)d minutes, or sign in another way.",
        minutes,
    ) % {"minutes": minutes}


def method_failure_record(method_id: int) -> int:
    """Count a failure against the method and lock it when due; returns the lock in seconds."""
    now = timezone.now()
    with transaction.atomic():
        VerificationMethod.objects.filter(pk=method_id).update(
            failed_attempts=F("failed_attempts") + 1
        )
        failures = (
            VerificationMethod.objects.filter(pk=method_id)
            .values_list("failed_attempts", flat=True)
            .first()
        )
        if failures is None:
            return 0
        duration = lock_duration(failures)
        if duration:
            VerificationMethod.objects.filter(pk=method_id).update(locked_until=now + duration)
        return math.ceil(duration.total_seconds())


def method_failures_clear(method_id: int) -> None:
    VerificationMethod.objects.filter(pk=method_id).exclude(
        failed_attempts=0, locked_until=None
    ).update(failed_attempts=0, locked_until=None)


def method_locked_for(method: VerificationMethod) -> int:
    return seconds_left(method.locked_until)


@dataclass(frozen=True)
class Limit:
    """``count`` events within ``window`` → blocked for ``block``."""

    count: int
    window: timedelta
    block: timedelta


def bucket_blocked_for(keys: list[str]) -> int:
    """Seconds until every one of these keys is unblocked (one query)."""
    now = timezone.now()
    until = (
        ThrottleBucket.objects.filter(key__in=keys, blocked_until__gt=now)
        .order_by("-blocked_until")
        .values_list("blocked_until", flat=True)
        .first()
    )
    return seconds_left(until, now)


def bucket_hit(key: str, limit: Limit) -> int:
    """Count one event. Returns 0 when it is allowed, else the seconds the key stays
    blocked; the event that reaches the limit is allowed and blocks the ones after it."""
    now = timezone.now()
    with transaction.atomic():
        bucket, _created = ThrottleBucket.objects.select_for_update().get_or_create(key=key)
        if bucket.blocked_until and bucket.blocked_until > now:
            return seconds_left(bucket.blocked_until, now)
        if now - bucket.window_started_at >= limit.window:
            bucket.window_started_at = now
            bucket.count = 0
            bucket.blocked_until = None
        bucket.count += 1
        if bucket.count >= limit.count:
            bucket.blocked_until = now + limit.block
        bucket.save()
        return 0


def bucket_clear(key: str) -> None:
    ThrottleBucket.objects.filter(key=key).delete()
