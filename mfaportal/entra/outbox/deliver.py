"""Delivering the outbox: claim due changes, send them, record Graph's answers."""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from mfaportal.core.audit import AuditEntry, audit_record_many
from mfaportal.core.chunks import chunked
from mfaportal.entra.mapping import SYNC_CONTEXT, methods_from_graph, state_from_graph
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox.answers import Answers
from mfaportal.entra.outbox.senders import SENDERS
from mfaportal.graph import (
    GraphClient,
    GraphError,
    MfaRequirements,
    PerUserMfaState,
    PerUserResult,
    client_from_settings,
)
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import reconcile
from mfaportal.mfa.services.passkeys import passkeys_delete_answered

logger = logging.getLogger(__name__)

Status = OutboxChange.Status
Kind = OutboxChange.Kind

CLAIM_SIZE = 1000
# How long a claim holds: a worker that has not finished by then is presumed dead.
LEASE = timedelta(minutes=10)
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0


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
class Claim:
    token: uuid.UUID
    changes: list[OutboxChange]


def retry_delay(attempts: int, error: GraphError | None = None) -> float:
    """Seconds before the next attempt: exponential with jitter, at least Graph's Retry-After."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = ceiling / 2 + random.random() * ceiling / 2
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float):
        delay = max(delay, float(retry_after))
    return delay


def claim(scope: Sequence[int] | None, cutoff: datetime) -> Claim:
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
        for chunk in chunked([row.pk for row in claimed]):
            # Attempts are counted at claim time: a worker dying mid-send still counts one.
            OutboxChange.objects.filter(pk__in=chunk).update(
                status=Status.SENDING,
                claim_token=token,
                lease_until=now + LEASE,
                attempts=F("attempts") + 1,
            )
        for row in claimed:
            row.attempts += 1
    return Claim(token, claimed)


def outbox_deliver(
    *, change_ids: Sequence[int] | None = None, client: GraphClient | None = None
) -> DeliveryReport:
    """Send due changes (those in ``change_ids``, or all) to Graph and record the answers."""
    report = DeliveryReport()
    # Changes put back for a retry during this call are due after the cutoff: not again now.
    cutoff = timezone.now()
    scopes: list[list[int] | None] = (
        list(chunked(change_ids, CLAIM_SIZE)) if change_ids is not None else [None]
    )
    for scope in scopes:
        while True:
            claimed = claim(scope, cutoff)
            if not claimed.changes:
                break
            answers = Answers()
            try:
                client = client or client_from_settings()
            except Exception as exc:  # no config, unreachable authority, bad credentials
                for change in claimed.changes:
                    answers.add_error(change.pk, exc)
            else:
                by_kind: dict[str, list[OutboxChange]] = defaultdict(list)
                for change in claimed.changes:
                    by_kind[change.kind].append(change)
                for kind, changes in by_kind.items():
                    SENDERS[kind](client, changes, answers)
            finish(client, claimed, answers, report)
    report.next_attempt_at = (
        OutboxChange.objects.filter(status=Status.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    return report


# --- finishing: record Graph's answers, bring the cache in line ------------------------------


def _read_states(client: GraphClient | None, object_ids: list[str]) -> dict[str, MfaState]:
    """Graph's current per-user MFA state of these users (those it could answer for)."""
    states: dict[str, MfaState] = {}
    if client is None or not object_ids:
        return states
    answer: list[PerUserResult[MfaRequirements]] | BaseException
    for _chunk, answer in client.each_batch(object_ids, client.requirements_get_many):
        if isinstance(answer, BaseException):
            # Best effort: the state sent stands in for what could not be read.
            logger.warning("could not read back per-user MFA states: %s", answer)
            continue
        for result in answer:
            if result.ok and result.value is not None:
                state = state_from_graph(result.value.per_user_mfa_state)
                if state is not None:
                    states[result.user_id] = state
    return states


def _read_methods(
    client: GraphClient | None, changes: list[OutboxChange]
) -> dict[int, list[reconcile.ObservedMethod]]:
    """The methods Graph still holds for these users (those it could answer for)."""
    found: dict[int, list[reconcile.ObservedMethod]] = {}
    users = [change for change in changes if change.user_id is not None]
    if client is None or not users:
        return found
    for chunk, answer in client.each_batch(
        users, lambda part: client.auth_methods_list_many([str(c.object_id) for c in part])
    ):
        if isinstance(answer, BaseException):
            logger.warning("could not read back methods after a refused deletion: %s", answer)
            continue
        for change, result in zip(chunk, answer, strict=True):
            if result.ok and change.user_id is not None:
                found[change.user_id] = methods_from_graph(result.value or [])
    return found


def _users_with_newer_state_changes(changes: list[OutboxChange]) -> set[int]:
    """Users with a newer open MFA state change than the one finishing: the cache shows
    what that newer one asks for, so this answer must not overwrite it."""
    claimed = [change.pk for change in changes]
    newest: dict[int, int] = {}
    user_ids = [change.user_id for change in changes if change.user_id is not None]
    for chunk in chunked(user_ids):
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


def _graph_state(value: Any) -> MfaState | None:
    try:
        return state_from_graph(PerUserMfaState(value))
    except ValueError:
        return None


def _state_answers(
    read: dict[str, MfaState], accepted: list[OutboxChange], refused: list[OutboxChange]
) -> list[reconcile.StateChangeAnswer]:
    changes = [c for c in accepted + refused if c.kind == Kind.MFA_STATE]
    skip = _users_with_newer_state_changes(changes)
    accepted_ids = {change.pk for change in accepted}
    return [
        reconcile.StateChangeAnswer(
            user_id=change.user_id,
            upn=change.user_label,
            accepted=change.pk in accepted_ids,
            sent=_graph_state(change.payload.get("state")),
            previous=_graph_state(change.payload.get("previous")),
            read_back=read.get(str(change.object_id)),
            change_id=change.pk,
        )
        for change in changes
        if change.user_id is not None and change.user_id not in skip
    ]


def finish(
    client: GraphClient | None, claimed: Claim, answers: Answers, report: DeliveryReport
) -> None:
    now = timezone.now()
    by_pk = {change.pk: change for change in claimed.changes}
    # Still ours? A claim whose lease ran out may have passed to another worker.
    mine = set(
        OutboxChange.objects.filter(
            pk__in=list(by_pk), status=Status.SENDING, claim_token=claimed.token
        ).values_list("pk", flat=True)
    )
    accepted = [by_pk[pk] for pk in sorted(answers.accepted) if pk in mine]
    refused = [by_pk[pk] for pk in sorted(answers.refused) if pk in mine]
    # Graph calls (reading the states back) happen before the transaction opens.
    read = _read_states(
        client, [str(c.object_id) for c in accepted + refused if c.kind == Kind.MFA_STATE]
    )
    # A refused re-registration may have deleted some methods before Graph refused one: the
    # cache shows what the user still has in Graph.
    remaining = _read_methods(client, [c for c in refused if c.kind == Kind.METHODS_DELETE])
    entries: list[AuditEntry] = []
    with transaction.atomic():
        mine = set(
            OutboxChange.objects.select_for_update()
            .filter(pk__in=list(mine), status=Status.SENDING, claim_token=claimed.token)
            .values_list("pk", flat=True)
        )
        accepted = [change for change in accepted if change.pk in mine]
        refused = [change for change in refused if change.pk in mine]
        done_ids = [change.pk for change in accepted]
        for chunk in chunked(done_ids):
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
        reconcile.state_changes_answered(
            _state_answers(read, accepted, refused), context=SYNC_CONTEXT
        )
        if remaining:
            reconcile.methods_observed(remaining, cached=reconcile.methods_cached(list(remaining)))
        reconcile.methods_delete_answered(
            deleted=[c.user_id for c in accepted if c.kind == Kind.METHODS_DELETE and c.user_id],
            refused=[c.user_id for c in refused if c.kind == Kind.METHODS_DELETE and c.user_id],
        )
        passkeys_delete_answered(
            deleted={
                c.user_id: list(c.payload.get("names", []))
                for c in accepted
                if c.kind == Kind.PASSKEYS_DELETE and c.user_id
            }
        )

        # Refused: record Graph's reason on the change and in the audit log.
        refusals: dict[tuple[str, int | None, str], list[int]] = defaultdict(list)
        for change in refused:
            error = answers.refused[change.pk]
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
            for chunk in chunked(pks):
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
        for pk, error in answers.retry.items():
            if pk in mine:
                key = (by_pk[pk].attempts, error.code, error.status, str(error))
                retries[key].append(pk)
                retry_errors.setdefault(key, error)
        for key, pks in retries.items():
            attempts, code, status, text = key
            delay = retry_delay(attempts, retry_errors[key])
            for chunk in chunked(pks):
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
        unanswered = mine - set(answers.accepted) - set(answers.refused) - set(answers.retry)
        if unanswered:
            OutboxChange.objects.filter(pk__in=list(unanswered)).update(
                status=Status.PENDING, claim_token=None, lease_until=None
            )
        audit_record_many(SYNC_CONTEXT, entries)
