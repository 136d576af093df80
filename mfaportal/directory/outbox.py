"""The durable outbox: changes for Graph, recorded with the action, sent until Graph answers.

Life of a change (``OutboxChange.status``)::

    pending ──claim──▶ sending ──Graph accepts──▶ done
       ▲                  │ ──Graph refuses (4xx)──▶ failed   (audited, shown with Graph's reason)
       └── retry later ◀──┘ ──429/5xx/timeout/no token──▶ pending again, next_attempt_at later

- ``outbox_record`` writes the rows in the caller's transaction and enqueues the send task
  on commit. A crash before the commit records nothing (and the action did not happen
  either); a crash after it leaves the rows pending for ``outbox_deliver`` to find.
- ``outbox_deliver`` claims due rows (``select_for_update(skip_locked=True)`` where the
  database has it; SQLite serialises writers anyway) by moving them to ``sending`` under a
  claim token and a lease, sends them, then finishes them only if the claim still holds. A
  worker that dies mid-send leaves rows whose lease runs out; they are claimed again. Every
  operation sent is idempotent (PATCH a state, DELETE a method that may be gone already,
  revoke sessions), so the rare resend after a lost lease does no harm, and a row finished
  once is never sent again.
- A newer change of the same kind for the same user replaces a pending one (the admin's
  latest word wins) and waits while an older one is in flight, so changes for one user
  reach Graph in order.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.models import AuditSource
from mfaportal.directory.graph_access import BATCH_SIZE, bounded_map, chunked, graph_client
from mfaportal.directory.mapping import DELETABLE_COLLECTIONS, state_from_graph
from mfaportal.directory.models import DirectoryUser, OutboxChange
from mfaportal.graph import (
    BatchRequest,
    GraphClient,
    GraphError,
    GraphNotFound,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
    PerUserMfaState,
    TokenError,
)
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod

if TYPE_CHECKING:
    from mfaportal.graph import MfaRequirements, PerUserResult

logger = logging.getLogger(__name__)

Status = OutboxChange.Status
Kind = OutboxChange.Kind

CHUNK = 500  # ids per query: stays under SQLite's bound-parameter limit
CLAIM_SIZE = 1000
# How long a claim holds: a worker that has not finished by then is presumed dead.
LEASE = timedelta(minutes=10)
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0

SYNC_CONTEXT = ChangeContext(actor=None, source=AuditSource.SYNC)


# --- recording ---------------------------------------------------------------------------------


def _id_chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def outbox_record(
    *,
    user_ids: Sequence[int],
    kind: str,
    payload: Callable[[int], dict[str, Any]],
    context: ChangeContext | None,
) -> list[int]:
    """Record one change per user in the caller's transaction; sending starts on commit.

    A pending change of the same kind for the same user is replaced (marked superseded):
    it has not reached Graph, and this one says what the admin wants now. What the older
    one knew about the state before (``previous``) carries over.
    """
    if not user_ids:
        return []
    now = timezone.now()
    actor = context.actor if context is not None else None
    actor_label = context.actor_label if context is not None else ""
    source = str(context.source) if context is not None else ""
    created_ids: list[int] = []
    with transaction.atomic():
        for chunk in _id_chunks(user_ids):
            replaced = OutboxChange.objects.filter(
                user_id__in=chunk, kind=kind, status=Status.PENDING
            )
            carried: dict[int, Any] = {}
            for user_id, old_payload in replaced.values_list("user_id", "payload"):
                if isinstance(old_payload, dict) and "previous" in old_payload:
                    carried.setdefault(user_id, old_payload["previous"])
            replaced.update(
                status=Status.SUPERSEDED, done_at=now, last_error="replaced by a newer change"
            )
            changes = []
            for user_id, object_id, upn in DirectoryUser.objects.filter(pk__in=chunk).values_list(
                "pk", "object_id", "user_principal_name"
            ):
                data = payload(user_id)
                if user_id in carried and "previous" in data:
                    data["previous"] = carried[user_id]
                changes.append(
                    OutboxChange(
                        user_id=user_id,
                        object_id=object_id,
                        user_label=upn[:255],
                        kind=kind,
                        payload=data,
                        next_attempt_at=now,
                        created_at=now,
                        actor=actor,
                        actor_label=actor_label[:255],
                        source=source,
                    )
                )
            created_ids += [change.pk for change in OutboxChange.objects.bulk_create(changes)]
        transaction.on_commit(partial(_enqueue_send, created_ids))
    return created_ids


def _enqueue_send(change_ids: list[int]) -> None:
    # Imported here: tasks imports this module.
    from mfaportal.directory.tasks import outbox_send

    try:
        outbox_send.enqueue(change_ids=change_ids)
    except Exception:
        # The rows are committed: `manage.py outbox_drain` (or the next drain task) sends
        # them. Losing the nudge must not turn into an error page for a saved change.
        logger.exception("could not enqueue outbox_send for %d changes", len(change_ids))


# --- delivering ----------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    done: int = 0
    failed: int = 0
    retrying: int = 0
    # When the earliest change left pending may be tried again (None: nothing left).
    next_attempt_at: datetime | None = None

    @property
    def sent(self) -> int:
        return self.done + self.failed + self.retrying


@dataclass
class _Claim:
    token: uuid.UUID
    changes: list[OutboxChange]


@dataclass
class _Outcomes:
    """What Graph said about each change of a claim, by change id."""

    accepted: set[int] = field(default_factory=set)
    refused: dict[int, GraphError] = field(default_factory=dict)
    retry: dict[int, GraphError] = field(default_factory=dict)

    def add_error(self, change_id: int, error: GraphError) -> None:
        if is_definitive(error):
            self.refused[change_id] = error
        else:
            self.retry[change_id] = error


def is_definitive(error: GraphError) -> bool:
    """Graph refused the change itself (403, 400, 404...): sending it again cannot help.

    Throttling, 5xx, timeouts, lost connections and credential problems (a token refused,
    an expired client secret) are not about the change: it waits and is sent again.
    """
    if isinstance(
        error, GraphThrottled | GraphUnavailable | GraphTimeout | GraphUnauthorized | TokenError
    ):
        return False
    if error.status is None or error.status in (408, 409, 423, 429):
        return False
    return 400 <= error.status < 500


def retry_delay(attempts: int, error: GraphError | None = None) -> float:
    """Seconds before the next attempt: exponential with jitter, at least Graph's Retry-After."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.random() * ceiling / 2
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float):
        delay = max(delay, float(retry_after))
    return delay


def _as_graph_error(error: BaseException) -> GraphError:
    if isinstance(error, GraphError):
        return error
    logger.error("unexpected error sending outbox changes", exc_info=error)
    return GraphError(None, "clientError", f"{type(error).__name__}: {error}")


def _claim(scope: Sequence[int] | None, cutoff: datetime) -> _Claim:
    """Move due changes to ``sending`` under a new claim token, oldest first."""
    now = timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        due = OutboxChange.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=cutoff)
            | Q(status=Status.SENDING, lease_until__lt=now)
        )
        if scope is not None:
            due = due.filter(pk__in=scope)
        in_flight = OutboxChange.objects.filter(
            object_id=OuterRef("object_id"),
            kind=OuterRef("kind"),
            status=Status.SENDING,
            lease_until__gte=now,
        )
        rows = list(
            due.exclude(Exists(in_flight))
            .select_for_update(skip_locked=True)
            .order_by("pk")[:CLAIM_SIZE]
        )
        claimed: list[OutboxChange] = []
        targets: set[tuple[Any, str]] = set()
        for row in rows:
            # Two open changes for one target and kind go one after the other.
            if (row.object_id, row.kind) in targets:
                continue
            targets.add((row.object_id, row.kind))
            claimed.append(row)
        for chunk in _id_chunks([row.pk for row in claimed]):
            # Attempts are counted at claim time: a worker dying mid-send still counts one.
            OutboxChange.objects.filter(pk__in=chunk).update(
                status=Status.SENDING,
                claim_token=token,
                lease_until=now + LEASE,
                attempts=F("attempts") + 1,
            )
        for row in claimed:
            row.attempts += 1
    return _Claim(token, claimed)


def outbox_deliver(
    *, change_ids: Sequence[int] | None = None, client: GraphClient | None = None
) -> DeliveryReport:
    """Send due changes (those in ``change_ids``, or all) to Graph and record the answers."""
    report = DeliveryReport()
    # Changes put back for a retry during this call are due after the cutoff: not again now.
    cutoff = timezone.now()
    scopes: list[list[int] | None] = (
        [list(chunk) for chunk in chunked(change_ids, CLAIM_SIZE)]
        if change_ids is not None
        else [None]
    )
    for scope in scopes:
        while True:
            claim = _claim(scope, cutoff)
            if not claim.changes:
                break
            outcomes = _Outcomes()
            try:
                client = client or graph_client()
            except Exception as exc:  # no config, unreachable authority, bad credentials
                for change in claim.changes:
                    outcomes.retry[change.pk] = _as_graph_error(exc)
            else:
                by_kind: dict[str, list[OutboxChange]] = defaultdict(list)
                for change in claim.changes:
                    by_kind[change.kind].append(change)
                for kind, changes in by_kind.items():
                    SENDERS[kind](client, changes, outcomes)
            _finish(client, claim, outcomes, report)
    report.next_attempt_at = (
        OutboxChange.objects.filter(status=Status.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return report


# --- senders: one per kind of change ------------------------------------------------------


def _per_user_outcomes(
    changes: list[OutboxChange],
    call: Callable[[list[str]], list[PerUserResult[Any]]],
    outcomes: _Outcomes,
) -> None:
    """Run a batched per-user helper over the changes' users and sort the answers."""
    for chunk, answer in bounded_map(
        lambda part: call([str(change.object_id) for change in part]),
        chunked(changes, BATCH_SIZE),
    ):
        if isinstance(answer, BaseException):
            for change in chunk:
                outcomes.add_error(change.pk, _as_graph_error(answer))
            continue
        for change, result in zip(chunk, answer, strict=True):
            if result.error is None:
                outcomes.accepted.add(change.pk)
            else:
                outcomes.add_error(change.pk, result.error)


def _send_mfa_states(client: GraphClient, changes: list[OutboxChange], out: _Outcomes) -> None:
    by_state: dict[str, list[OutboxChange]] = defaultdict(list)
    for change in changes:
        by_state[str(change.payload.get("state", ""))].append(change)
    for state, group in by_state.items():
        _per_user_outcomes(group, partial(_requirements_set, client, state), out)


def _requirements_set(
    client: GraphClient, state: str, user_ids: list[str]
) -> list[PerUserResult[None]]:
    return client.requirements_set_many([(user_id, state) for user_id in user_ids])


def _send_methods_delete(client: GraphClient, changes: list[OutboxChange], out: _Outcomes) -> None:
    """List each user's methods, then delete the phone, authenticator and OATH ones."""
    deletions: list[tuple[OutboxChange, str]] = []
    listed: list[OutboxChange] = []
    for chunk, answer in bounded_map(
        lambda part: client.auth_methods_list_many([str(change.object_id) for change in part]),
        chunked(changes, BATCH_SIZE),
    ):
        if isinstance(answer, BaseException):
            for change in chunk:
                out.add_error(change.pk, _as_graph_error(answer))
            continue
        for change, result in zip(chunk, answer, strict=True):
            if result.error is not None:
                out.add_error(change.pk, result.error)
                continue
            listed.append(change)
            user = quote(str(change.object_id), safe="")
            for method in result.value or []:
                collection = DELETABLE_COLLECTIONS.get(method.kind)
                if collection:
                    path = f"/users/{user}/authentication/{collection}/{quote(method.id, safe='')}"
                    deletions.append((change, path))
    errors: dict[int, list[GraphError]] = defaultdict(list)
    for part, outcome in bounded_map(
        lambda part: client.batch([BatchRequest("DELETE", path) for _change, path in part]),
        chunked(deletions, BATCH_SIZE),
    ):
        if isinstance(outcome, BaseException):
            for change, _path in part:
                errors[change.pk].append(_as_graph_error(outcome))
            continue
        for (change, _path), deleted in zip(part, outcome, strict=True):
            # Gone already (an earlier attempt, or someone else) is what we wanted.
            if deleted.error is not None and not isinstance(deleted.error, GraphNotFound):
                errors[change.pk].append(deleted.error)
    for change in listed:
        problems = errors.get(change.pk)
        if not problems:
            out.accepted.add(change.pk)
            continue
        definitive = [error for error in problems if is_definitive(error)]
        out.add_error(change.pk, definitive[0] if definitive else problems[0])


def _send_sessions_revoke(client: GraphClient, changes: list[OutboxChange], out: _Outcomes) -> None:
    _per_user_outcomes(changes, client.revoke_sign_in_sessions_many, out)


SENDERS: dict[str, Callable[[GraphClient, list[OutboxChange], _Outcomes], None]] = {
    Kind.MFA_STATE: _send_mfa_states,
    Kind.METHODS_DELETE: _send_methods_delete,
    Kind.SESSIONS_REVOKE: _send_sessions_revoke,
}


# --- finishing: record Graph's answers, bring the cache in line ------------------------------


def _read_states(client: GraphClient | None, object_ids: list[str]) -> dict[str, MfaState]:
    """Graph's current per-user MFA state of these users (those it could answer for)."""
    states: dict[str, MfaState] = {}
    if client is None or not object_ids:
        return states
    answers: Iterator[tuple[list[str], list[PerUserResult[MfaRequirements]] | BaseException]]
    answers = bounded_map(client.requirements_get_many, chunked(object_ids, BATCH_SIZE))
    for _chunk, answer in answers:
        if isinstance(answer, BaseException):
            logger.warning("could not read back per-user MFA states: %s", answer)
            continue
        for result in answer:
            if result.ok and result.value is not None:
                state = state_from_graph(result.value.per_user_mfa_state)
                if state is not None:
                    states[result.user_id] = state
    return states


def _users_with_newer_state_changes(changes: list[OutboxChange]) -> set[int]:
    """Users with a newer open MFA state change than the one finishing: the cache shows
    what that newer one asks for, so this answer must not overwrite it."""
    claimed = [change.pk for change in changes]
    newest: dict[int, int] = {}
    user_ids = [change.user_id for change in changes if change.user_id is not None]
    for chunk in _id_chunks(user_ids):
        rows = (
            OutboxChange.objects.filter(
                user_id__in=chunk, kind=Kind.MFA_STATE, status__in=OutboxChange.OPEN_STATUSES
            )
            .exclude(pk__in=claimed)
            .values_list("user_id", "pk")
        )
        for user_id, pk in rows:
            newest[user_id] = max(pk, newest.get(user_id, 0))
    return {
        change.user_id
        for change in changes
        if change.user_id is not None and newest.get(change.user_id, 0) > change.pk
    }


def _mfa_state_cache(
    read: dict[str, MfaState],
    accepted: list[OutboxChange],
    refused: list[OutboxChange],
) -> list[AuditEntry]:
    """After Graph's answer the cache shows Graph's state, as read back (``enabled`` may
    have become ``enforced``). Where it could not be read, the state sent (accepted) or the
    state before (refused) stands in for it."""
    changes = accepted + refused
    if not changes:
        return []
    skip = _users_with_newer_state_changes(changes)
    accepted_ids = {change.pk for change in accepted}
    registered: set[int] = set()
    for chunk in _id_chunks([c.user_id for c in accepted if c.user_id is not None]):
        registered.update(
            VerificationMethod.objects.filter(user_id__in=chunk).values_list("user_id", flat=True)
        )
    by_state: dict[MfaState, list[int]] = defaultdict(list)
    entries: list[AuditEntry] = []
    for change in changes:
        if change.user_id is None or change.user_id in skip:
            continue
        sent = state_from_graph(PerUserMfaState(change.payload.get("state")))
        if change.pk in accepted_ids:
            fallback = sent
            if fallback == MfaState.ENABLED and change.user_id in registered:
                fallback = MfaState.ENFORCED
        else:
            fallback = state_from_graph(PerUserMfaState(change.payload.get("previous")))
        state = read.get(str(change.object_id), fallback)
        if state is None:
            continue
        by_state[state].append(change.user_id)
        if change.pk in accepted_ids and sent is not None and state != sent:
            entries.append(
                AuditEntry(
                    "mfa.state",
                    change.user_id,
                    change.user_label,
                    before=str(sent.label),
                    after=str(state.label),
                    detail={"reason": "Graph's answer to the change", "outbox_id": change.pk},
                )
            )
    now = timezone.now()
    for state, user_ids in by_state.items():
        for chunk in _id_chunks(user_ids):
            UserMfa.objects.filter(user_id__in=chunk).update(state=state, updated_at=now)
    return entries


def _methods_cache(accepted: list[OutboxChange], refused: list[OutboxChange]) -> None:
    """Deleted in Graph: gone from the cache. Refused: the registration was not cleared."""
    gone = [change.user_id for change in accepted if change.user_id is not None]
    kept = [change.user_id for change in refused if change.user_id is not None]
    for chunk in _id_chunks(gone):
        VerificationMethod.objects.filter(user_id__in=chunk).delete()
        UserMfa.objects.filter(user_id__in=chunk).update(default_method="")
    for chunk in _id_chunks(kept):
        UserMfa.objects.filter(user_id__in=chunk).update(must_register=False)


def _finish(
    client: GraphClient | None, claim: _Claim, outcomes: _Outcomes, report: DeliveryReport
) -> None:
    now = timezone.now()
    by_pk = {change.pk: change for change in claim.changes}
    # Still ours? A claim whose lease ran out may have passed to another worker.
    mine = set(
        OutboxChange.objects.filter(
            pk__in=list(by_pk), status=Status.SENDING, claim_token=claim.token
        ).values_list("pk", flat=True)
    )
    accepted = [by_pk[pk] for pk in sorted(outcomes.accepted) if pk in mine]
    refused = [by_pk[pk] for pk in sorted(outcomes.refused) if pk in mine]
    # Graph calls (reading the states back) happen before the transaction opens.
    read = _read_states(
        client,
        [str(c.object_id) for c in accepted + refused if c.kind == Kind.MFA_STATE],
    )
    entries: list[AuditEntry] = []
    with transaction.atomic():
        mine = set(
            OutboxChange.objects.select_for_update()
            .filter(pk__in=list(mine), status=Status.SENDING, claim_token=claim.token)
            .values_list("pk", flat=True)
        )
        accepted = [change for change in accepted if change.pk in mine]
        refused = [change for change in refused if change.pk in mine]
        done_ids = [change.pk for change in accepted]
        for chunk in _id_chunks(done_ids):
            OutboxChange.objects.filter(pk__in=chunk).update(
                status=Status.DONE,
                done_at=now,
                claim_token=None,
                lease_until=None,
                last_error="",
                graph_error_code="",
                graph_status=None,
            )
        report.done += len(done_ids)
        entries += _mfa_state_cache(
            read,
            [change for change in accepted if change.kind == Kind.MFA_STATE],
            [change for change in refused if change.kind == Kind.MFA_STATE],
        )
        _methods_cache(
            [change for change in accepted if change.kind == Kind.METHODS_DELETE],
            [change for change in refused if change.kind == Kind.METHODS_DELETE],
        )

        # Refused: record Graph's reason on the change and in the audit log.
        refusals: dict[tuple[str, int | None, str], list[int]] = defaultdict(list)
        for change in refused:
            error = outcomes.refused[change.pk]
            refusals[(error.code, error.status, error.message)].append(change.pk)
            entries.append(
                AuditEntry(
                    "directory.change_refused",
                    change.user_id,
                    change.user_label,
                    after=f"{error.status} {error.code}",
                    detail={
                        "change": change.kind,
                        "payload": change.payload,
                        "outbox_id": change.pk,
                        "graph_status": error.status,
                        "graph_code": error.code,
                        "graph_message": error.message,
                        "requested_by": change.actor_label,
                    },
                )
            )
        for (code, status, message), pks in refusals.items():
            for chunk in _id_chunks(pks):
                OutboxChange.objects.filter(pk__in=chunk).update(
                    status=Status.FAILED,
                    done_at=now,
                    claim_token=None,
                    lease_until=None,
                    last_error=message,
                    graph_error_code=code[:100],
                    graph_status=status,
                )
            report.failed += len(pks)

        # Not answered: pending again, later. The error says why it is waiting.
        retries: dict[tuple[int, str, int | None, str], list[int]] = defaultdict(list)
        retry_errors: dict[tuple[int, str, int | None, str], GraphError] = {}
        for pk, error in outcomes.retry.items():
            if pk in mine:
                key = (by_pk[pk].attempts, error.code, error.status, str(error))
                retries[key].append(pk)
                retry_errors.setdefault(key, error)
        for key, pks in retries.items():
            attempts, code, status, text = key
            delay = retry_delay(attempts, retry_errors[key])
            for chunk in _id_chunks(pks):
                OutboxChange.objects.filter(pk__in=chunk).update(
                    status=Status.PENDING,
                    claim_token=None,
                    lease_until=None,
                    next_attempt_at=now + timedelta(seconds=delay),
                    last_error=text[:2000],
                    graph_error_code=code[:100],
                    graph_status=status,
                )
            report.retrying += len(pks)
        # A claimed change no sender answered for (a bug) must not stay claimed forever.
        unanswered = mine - set(outcomes.accepted) - set(outcomes.refused) - set(outcomes.retry)
        if unanswered:
            OutboxChange.objects.filter(pk__in=list(unanswered)).update(
                status=Status.PENDING, claim_token=None, lease_until=None
            )
        audit_record_many(SYNC_CONTEXT, entries)


# --- reads ---------------------------------------------------------------------------------


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
