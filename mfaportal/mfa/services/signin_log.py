"""The sign-in log (issue 16.5): one row per browser or legacy sign-in attempt.

``signin_record`` is called where an attempt is decided (the sign-in form, each answer to
the challenge, ``/legacy/auth``) and costs one INSERT, nothing else: the caller hands in what
it already knows. Passkeys, Temporary Access Passes and hardware tokens call it with their
``SignInAsked`` value. ``signin_log_prune`` deletes what is older than
``MFAPORTAL_SIGNIN_LOG_DAYS``; the task ``mfa.tasks.signin_log_prune_run`` runs it, enqueued at
most once a day per process by the writes themselves.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import (
    SignInAsked,
    SignInClient,
    SignInEvent,
    SignInReason,
    SignInResult,
)

logger = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(days=1)
PRUNE_CHUNK = 1000
# When this process next enqueues a prune (time.monotonic()); the first write does.
_prune_due = [0.0]
_prune_lock = threading.Lock()


def _label(user: DirectoryUser | None, typed: str) -> str:
    """The user's name, or the name typed: printable characters only, bounded."""
    if user is not None:
        return user.user_principal_name[:255]
    return "".join(ch for ch in typed if ch.isprintable()).strip()[:255]


def _address(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def signin_record(
    *,
    client: SignInClient,
    asked: SignInAsked,
    result: SignInResult,
    reason: SignInReason = SignInReason.NONE,
    user: DirectoryUser | None = None,
    typed_name: str = "",
    address: str | None = None,
) -> None:
    """Record one sign-in attempt. ``typed_name`` is the user name as typed, kept when no
    user matches it; never pass a password or code here."""
    _insert(
        timezone.now(),
        user.pk if user is not None else None,
        _label(user, typed_name),
        _address(address),
        str(client),
        str(asked),
        str(result),
        str(reason),
    )
    _prune_when_due()


def signin_record_with(
    select_sql: str,
    select_params: Sequence[Any],
    *,
    when: str,
    when_params: Sequence[Any],
    client: SignInClient,
    asked: SignInAsked,
    result: SignInResult,
    typed_name: str,
    address: str | None = None,
    alias: str,
) -> tuple[str, list[Any]]:
    """``select_sql`` (its rows named ``found``; a ``user_id`` column) that also records one
    sign-in attempt for the row it finds where ``when`` holds, in the same statement: one
    round trip where the look-up decides the answer (PostgreSQL only: a data-modifying
    ``WITH``). Its rows gain a last column, 1 when the attempt was recorded; the caller then
    calls ``signin_recorded`` instead of ``signin_record``. The label is ``typed_name``, so
    ``when`` must hold only where it is the found user's name as stored."""
    connection = connections[alias]
    fields: list[Any] = [SignInEvent._meta.get_field(name) for name in _COLUMNS]
    quote = connection.ops.quote_name
    table = quote(SignInEvent._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    sql = (
        f"WITH found AS ({select_sql}), "  # noqa: S608 (names quoted, values parameters)
        f"recorded AS (INSERT INTO {table} ({columns}) "
        "SELECT %s, found.user_id, %s, %s, %s, %s, %s, %s "
        f"FROM found WHERE {when} RETURNING 1) "
        "SELECT found.*, (SELECT COUNT(*) FROM recorded) FROM found"
    )
    values = (
        timezone.now(),
        None,
        typed_name[:255],
        _address(address),
        str(client),
        str(asked),
        str(result),
        str(SignInReason.NONE),
    )
    prepared = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values, strict=True)
    ]
    del prepared[1]  # the user comes from the row found
    return sql, [*select_params, *prepared, *when_params]


def signin_recorded() -> None:
    """A sign-in attempt was recorded by ``signin_record_with``'s statement."""
    _prune_when_due()


# The columns the INSERT names, in order; the statement is written once per database: the
# ORM built a model object and compiled the same INSERT on every sign-in (issue 15).
_COLUMNS = ("at", "user", "user_label", "address", "client", "asked", "result", "reason")
_statements: dict[tuple[str, str], str] = {}


def _insert(*values: object) -> None:
    alias = router.db_for_write(SignInEvent)
    connection = connections[alias]
    fields: list[Any] = [SignInEvent._meta.get_field(name) for name in _COLUMNS]
    key = (alias, connection.vendor)
    if key not in _statements:
        # Only the model's own table and column names, quoted; every value is a parameter.
        quote = connection.ops.quote_name
        table = quote(SignInEvent._meta.db_table)
        columns = ", ".join(quote(field.column) for field in fields)
        slots = ", ".join(["%s"] * len(fields))
        _statements[key] = f"INSERT INTO {table} ({columns}) VALUES ({slots})"  # noqa: S608
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(_statements[key], params)


def _prune_when_due() -> None:
    """Enqueue the prune once a day per process, after the write commits: no query of its
    own on a sign-in."""
    now = time.monotonic()
    with _prune_lock:
        if now < _prune_due[0]:
            return
        _prune_due[0] = now + PRUNE_EVERY.total_seconds()

    def enqueue() -> None:
        from mfaportal.mfa.tasks import signin_log_prune_run

        try:
            signin_log_prune_run.enqueue()
        except Exception:
            logger.exception("could not enqueue the sign-in log prune")

    transaction.on_commit(enqueue)


def signin_log_prune(*, now: datetime | None = None) -> int:
    """Delete sign-in events older than ``MFAPORTAL_SIGNIN_LOG_DAYS``, a chunk per statement
    (a long log never holds one long lock). Answers how many were deleted."""
    before = (now or timezone.now()) - timedelta(days=settings.MFAPORTAL_SIGNIN_LOG_DAYS)
    deleted = 0
    while True:
        ids = list(
            SignInEvent.objects.filter(at__lt=before)
            .order_by("at", "id")
            .values_list("id", flat=True)[:PRUNE_CHUNK]
        )
        if not ids:
            return deleted
        deleted += SignInEvent.objects.filter(id__in=ids).delete()[0]
