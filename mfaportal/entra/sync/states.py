"""The per-user MFA state stage (beta ``requirements``): 20 users to a ``$batch``, a few
batches in flight, answers handed to the mfa app every couple of thousand users."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connection

from mfaportal.core.chunks import chunked
from mfaportal.core.prepared import Prepared
from mfaportal.directory.cache import object_id_parse
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.mapping import SYNC_CONTEXT, state_from_graph
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.sync.status import RESUME_ATTEMPTS, Run, resumable
from mfaportal.graph import GraphError, GraphForbidden
from mfaportal.mfa.services import reconcile

DB_CHUNK = 2000


@dataclass(frozen=True)
class CachedUser:
    pk: int
    object_id: str
    upn: str


def users_by_object_id(object_ids: Sequence[str]) -> Iterator[CachedUser]:
    wanted = [oid for value in dict.fromkeys(object_ids) if (oid := object_id_parse(value))]
    for chunk in chunked(wanted):
        for pk, object_id, upn in DirectoryUser.objects.filter(object_id__in=chunk).values_list(
            "pk", "object_id", "user_principal_name"
        ):
            yield CachedUser(pk, str(object_id), upn)


# Read twice per full sync (states, then users the report left out): compiled once, and
# its rows taken as the database gives them rather than through the ORM's converters
# (measured: a tenth of a 100k sync's CPU time went to building and converting these rows).
_USERS_AFTER = Prepared(
    lambda last: (
        DirectoryUser.objects.filter(pk__gt=last)
        .order_by("pk")
        .values_list("pk", "object_id", "user_principal_name")[:DB_CHUNK]
    ),
    stand_ins=[-7_654_321],
)


def _object_id_text(stored: object) -> str:
    """An object id as Graph writes it, from the column's value: a UUID (PostgreSQL) or
    SQLite's 32 lowercase hex digits (``uuid.hex``)."""
    if isinstance(stored, str) and len(stored) == 32:
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(stored)


def all_users() -> Iterator[CachedUser]:
    """Every cached user, streamed by primary key (keyset, never OFFSET)."""
    last = 0
    while True:
        sql, params = _USERS_AFTER.sql(DEFAULT_DB_ALIAS, [last])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return
        for pk, object_id, upn in rows:
            yield CachedUser(pk, _object_id_text(object_id), upn)
        last = rows[-1][0]


def states_stage(run: Run, users: Iterator[CachedUser], total: int) -> None:
    done = 0
    buffer: list[reconcile.ObservedState] = []
    run.report("mfa_states", 0, total, force=True)
    client = run.client
    failed: list[CachedUser] = []
    error: BaseException | None = None
    for attempt in range(RESUME_ATTEMPTS + 1):
        if attempt:
            # Batches Graph could not answer: again, after its Retry-After.
            run.pause(error)
            users, failed = iter(failed), []
        answers = client.each_batch(
            users, lambda part: client.requirements_get_many([u.object_id for u in part])
        )
        for chunk, answer in answers:
            if isinstance(answer, GraphForbidden):
                # One 403 for the whole batch: the permission is missing, not one user.
                run.problems("mfa_states", answer, len(chunk))
            elif isinstance(answer, BaseException) and resumable(answer):
                failed.extend(chunk)
                error = answer
                continue
            elif isinstance(answer, BaseException):
                raise answer
            else:
                for user, result in zip(chunk, answer, strict=True):
                    if result.error is not None:
                        run.problem("mfa_states", result.error)
                    elif result.value is not None:
                        state = state_from_graph(result.value.per_user_mfa_state)
                        if state is not None:
                            buffer.append(reconcile.ObservedState(user.pk, user.upn, state))
            done += len(chunk)
            if len(buffer) >= DB_CHUNK:
                _hand_over(run, buffer)
                buffer = []
            run.report("mfa_states", done, total)
        if not failed:
            break
    if failed and isinstance(error, GraphError):
        run.problems("mfa_states", error, len(failed))
    _hand_over(run, buffer)
    run.report("mfa_states", done, total, force=True)


def _hand_over(run: Run, answers: list[reconcile.ObservedState]) -> None:
    if not answers:
        return
    run.result.states_read += len(answers)
    # An admin change on its way to Graph shows in the cache already: keep it.
    waiting = set(
        OutboxChange.objects.filter(
            kind=OutboxChange.Kind.MFA_STATE, status__in=OutboxChange.OPEN_STATUSES
        ).values_list("user_id", flat=True)
    )
    run.result.states_changed += reconcile.states_observed(
        [answer for answer in answers if answer.user_id not in waiting], context=SYNC_CONTEXT
    )
