"""The directory of record's answers, brought into the cache.

Graph mode's sync reads every user's state and methods from Microsoft Graph, and its outbox
hears Graph accept or refuse what the portal sent. Both hand what they learned to this
module, in the domain's own terms (``MfaState``, ``ObservedMethod``), and this module alone
decides what the cache shows and what the audit log says about it. What to leave alone (a
user whose newer change is still on its way to Graph) is the caller's knowledge: it passes
only the answers that apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models, transaction

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.bulk_sql import bulk_insert, one_of
from mfaportal.core.chunks import chunked
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod
from mfaportal.mfa.services.methods import methods_forget
from mfaportal.mfa.services.registration import registration_requirement_clear
from mfaportal.mfa.services.state import mfa_states_record

# Users per database round trip.
DB_CHUNK = 2000


@dataclass(frozen=True)
class ObservedMethod:
    """A verification method as the directory reports it, in the cache's terms (comparable,
    so methods that did not change are left as they are)."""

    kind: str
    phone_number: str = ""
    extension: str = ""
    app_mode: str = ""
    device_name: str = ""

    @classmethod
    def of(cls, method: VerificationMethod) -> ObservedMethod:
        return cls(
            kind=method.kind,
            phone_number=method.phone_number,
            extension=method.extension,
            app_mode=method.app_mode,
            device_name=method.device_name,
        )

    @property
    def identity(self) -> tuple[str, ...]:
        # The device's display name may change without the method changing.
        return (self.kind, self.phone_number, self.extension, self.app_mode)


@dataclass(frozen=True)
class ObservedState:
    user_id: int
    upn: str
    state: MfaState


@dataclass(frozen=True)
class StateChangeAnswer:
    """The directory's answer to a state change the portal sent.

    ``read_back``: the state read from the directory after the answer, when it could be
    read (it may differ from what was sent: Enabled becomes Enforced for a registered user).
    """

    user_id: int
    upn: str
    accepted: bool
    sent: MfaState | None
    previous: MfaState | None
    read_back: MfaState | None = None
    change_id: int | None = None


# --- what the cache holds now (the sync compares against it) ----------------------------------


def methods_cached(user_ids: Iterable[int]) -> dict[int, list[ObservedMethod]]:
    cached: dict[int, list[ObservedMethod]] = defaultdict(list)
    for chunk in chunked(user_ids, DB_CHUNK):
        # Rows, not model instances: a sync asks this for every page of 1,000 users.
        for user_id, *fields in VerificationMethod.objects.filter(
            one_of("user_id", chunk, models.BigIntegerField())
        ).values_list("user_id", "kind", "phone_number", "extension", "app_mode", "device_name"):
            cached[user_id].append(ObservedMethod(*fields))
    return cached


def defaults_cached(user_ids: Iterable[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in chunked(user_ids, DB_CHUNK):
        found.update(
            UserMfa.objects.filter(one_of("user_id", chunk, models.BigIntegerField())).values_list(
                "user_id", "default_method"
            )
        )
    return found


# --- what the directory reported -----------------------------------------------------------


def states_observed(answers: list[ObservedState], *, context: ChangeContext) -> int:
    """The per-user MFA state the directory reports; returns how many changed (each one
    audited as read from the directory)."""
    if not answers:
        return 0
    pks = {answer.user_id for answer in answers}
    with transaction.atomic():
        # A full sync streams users in primary-key order: a range finds their rows
        # without a long IN list (which costs Django more than the database).
        if max(pks) - min(pks) < 4 * len(pks):
            rows = UserMfa.objects.filter(user_id__gte=min(pks), user_id__lte=max(pks))
        else:
            rows = UserMfa.objects.filter(user_id__in=pks)
        existing = {
            user_id: state
            for user_id, state in rows.values_list("user_id", "state")
            if user_id in pks
        }
        bulk_insert(
            UserMfa,
            fields=["user", "state"],
            rows=[(a.user_id, a.state) for a in answers if a.user_id not in existing],
            conflict=["user"],
        )
        changed: dict[MfaState, list[int]] = defaultdict(list)
        entries = []
        for answer in answers:
            before = existing.get(answer.user_id)
            if before is None or before == answer.state:
                continue
            changed[answer.state].append(answer.user_id)
            entries.append(
                AuditEntry(
                    "mfa.state",
                    answer.user_id,
                    answer.upn,
                    before=MfaState(before).code,
                    after=answer.state.code,
                    detail={"reason": "read from Microsoft Graph"},
                )
            )
        for state, ids in changed.items():
            mfa_states_record(ids, state)
        audit_record_many(context, entries)
    return len(entries)


def methods_observed(
    read: dict[int, list[ObservedMethod]],
    *,
    cached: dict[int, list[ObservedMethod]],
    emptied: Iterable[int] = (),
    deletions_pending: Iterable[int] = (),
) -> int:
    """Each user's methods as the directory reports them (``emptied``: users it reports
    with none). Only users whose methods differ from ``cached`` are rewritten; returns how
    many were. A user who was asked to provide contact methods again and now has methods
    has done so, unless the deletion that asked for it has not reached the directory yet
    (``deletions_pending``)."""

    def key(method: ObservedMethod) -> tuple[str, ...]:
        return method.identity

    changed = [
        pk
        for pk, methods in read.items()
        if sorted(methods, key=key) != sorted(cached.get(pk, []), key=key)
    ]
    replace = changed + list(emptied)
    with transaction.atomic():
        for chunk in chunked(replace):
            VerificationMethod.objects.filter(user_id__in=chunk).delete()
        bulk_insert(
            VerificationMethod,
            fields=["user", "kind", "phone_number", "extension", "app_mode", "device_name"],
            rows=[
                (pk, m.kind, m.phone_number, m.extension, m.app_mode, m.device_name)
                for pk in changed
                for m in read[pk]
            ],
        )
        # Asked of these users by key: a sync calls this per page of 1,000 users, and a
        # check of the whole table first would read every user's row each time.
        pending = set(deletions_pending)
        registration_requirement_clear(
            [pk for pk, methods in read.items() if methods and pk not in pending]
        )
    return len(replace)


def defaults_observed(new_defaults: dict[int, str]) -> int:
    """The preferred method the directory reports, where it differs from the cache's."""
    if not new_defaults:
        return 0
    with transaction.atomic():
        bulk_insert(
            UserMfa, fields=["user"], rows=[(pk,) for pk in new_defaults], conflict=["user"]
        )
        by_value: dict[str, list[int]] = defaultdict(list)
        for pk, value in new_defaults.items():
            by_value[value].append(pk)
        for value, pks in by_value.items():
            for chunk in chunked(pks):
                UserMfa.objects.filter(user_id__in=chunk).update(default_method=value)
    return len(new_defaults)


# --- answers to what the portal sent ---------------------------------------------------------


def state_changes_answered(answers: list[StateChangeAnswer], *, context: ChangeContext) -> None:
    """The directory accepted or refused state changes: the cache shows what it holds now.

    An accepted change stands: the directory is eventually consistent, so a read right after
    the write may still show the state before it. A read-back counts only where it is what
    the change can have become (Enabled turned Enforced for a registered user, which the
    cache may not know of yet); otherwise the state sent (Enabled on a user registered here
    being Enforced) stands. A refused change leaves the state before, or what was read. An
    accepted change that the directory turned into another state is audited."""
    if not answers:
        return
    registered: set[int] = set()
    for chunk in chunked([a.user_id for a in answers if a.accepted]):
        registered.update(
            VerificationMethod.objects.filter(user_id__in=chunk).values_list("user_id", flat=True)
        )
    by_state: dict[MfaState, list[int]] = defaultdict(list)
    entries: list[AuditEntry] = []
    for answer in answers:
        if answer.accepted:
            fallback = (
                None
                if answer.sent is None
                else policy.resulting_state(answer.sent, registered=answer.user_id in registered)
            )
            became = {answer.sent, fallback}
            if answer.sent is not None:
                became.add(policy.resulting_state(answer.sent, registered=True))
            state = answer.read_back if answer.read_back in became else fallback
        else:
            state = answer.read_back if answer.read_back is not None else answer.previous
        if state is None:
            continue
        by_state[state].append(answer.user_id)
        if answer.accepted and answer.sent is not None and state != answer.sent:
            entries.append(
                AuditEntry(
                    "mfa.state",
                    answer.user_id,
                    answer.upn,
                    before=answer.sent.code,
                    after=state.code,
                    detail={
                        "reason": "Graph's answer to the change",
                        "outbox_id": answer.change_id,
                    },
                )
            )
    with transaction.atomic():
        for state, user_ids in by_state.items():
            mfa_states_record(user_ids, state)
        audit_record_many(context, entries)


def methods_delete_answered(*, deleted: list[int], refused: list[int]) -> None:
    """The directory deleted the methods of ``deleted`` (the cache forgets them) and
    refused to for ``refused`` (their registration was not cleared: none is due)."""
    with transaction.atomic():
        methods_forget(deleted)
        registration_requirement_clear(refused)
