"""Failure counters and lockouts kept in the database, so every process sees the same.

Two shapes:

- per method (``VerificationMethod.failed_attempts`` / ``locked_until``): a few free
  mistakes, then an exponential lockout (1, 2, 4 ... minutes, at most an hour); a correct
  code resets it;
- per key (``ThrottleBucket``): a fixed window counting failures or sends for a user or an
  address (the legacy endpoint, code requests), blocked for a while once over the limit.

A slow check (a password hash) is guarded by reserving the attempt first: ``attempt_reserve``
counts it under a row lock (``SELECT ... FOR UPDATE`` on PostgreSQL, SQLite's immediate
transaction), refusing it when the limit is already taken, and only then does the check run;
``attempt_failed`` keeps the reservation, ``attempt_succeeded`` gives it back. Parallel guesses
therefore never get more checks than the limit, whatever their timing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
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


@dataclass(frozen=True)
class Counter:
    """One limit an attempt counts against. ``enforced=False``: the attempt is counted but
    never refused by it (a familiar address under the account's ceiling)."""

    key: str
    limit: Limit
    enforced: bool = True


def attempt_reserve(counters: Sequence[Counter]) -> int:
    """Reserve one attempt on every counter at once, before the check it guards. Returns 0
    when reserved, else the seconds until the attempt may be made (nothing is counted)."""
    now = timezone.now()
    ordered = sorted(counters, key=lambda counter: counter.key)  # one lock order: no deadlock
    with transaction.atomic():
        buckets = []
        refused = 0
        for counter in ordered:
            bucket, _created = ThrottleBucket.objects.select_for_update().get_or_create(
                key=counter.key
            )
            blocked = bucket.blocked_until is not None and bucket.blocked_until > now
            if not blocked and now - bucket.window_started_at >= counter.limit.window:
                bucket.window_started_at, bucket.count, bucket.blocked_until = now, 0, None
            elif bucket.blocked_until is not None and not blocked:
                # A block has run out: one more try, and a failure blocks again (as Entra's
                # smart lockout does after a lockout period).
                bucket.window_started_at, bucket.blocked_until = now, None
                bucket.count = min(bucket.count, counter.limit.count - 1)
            if counter.enforced:
                if blocked:
                    refused = max(refused, seconds_left(bucket.blocked_until, now))
                elif bucket.count >= counter.limit.count:
                    # Taken by attempts still being checked: as long as they would block.
                    refused = max(refused, math.ceil(counter.limit.block.total_seconds()))
            buckets.append(bucket)
        if refused:
            return refused
        for bucket in buckets:
            bucket.count += 1
            bucket.save(update_fields=["window_started_at", "count", "blocked_until"])
    return 0


def attempt_failed(counters: Sequence[Counter]) -> None:
    """The reserved attempt failed: it stays counted, and a counter at its limit blocks."""
    now = timezone.now()
    with transaction.atomic():
        for counter in sorted(counters, key=lambda counter: counter.key):
            ThrottleBucket.objects.filter(key=counter.key, count__gte=counter.limit.count).filter(
                models.Q(blocked_until__isnull=True) | models.Q(blocked_until__lte=now)
            ).update(blocked_until=now + counter.limit.block)


def attempt_succeeded(counters: Sequence[Counter]) -> None:
    """The reserved attempt succeeded: it is not a failure, so it is given back."""
    ThrottleBucket.objects.filter(
        key__in=[counter.key for counter in counters], count__gt=0
    ).update(count=F("count") - 1)
