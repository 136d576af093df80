"""The users a service is asked to change, read once as plain rows, and sorted into those
the actor may change and those refused (with the policy's reason)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from mfaportal.core.audit import ChangeContext
from mfaportal.core.chunks import chunked
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.models import (
    DirectoryUser,
    holds_any_role,
    holds_role_beyond_authentication_administrator_reach,
)
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod


@dataclass(frozen=True)
class TargetRow:
    id: int
    upn: str
    is_licensed: bool
    state: MfaState
    registered: bool
    holds_admin_role: bool
    beyond_authentication_administrator_reach: bool

    @property
    def target(self) -> policy.Target:
        return policy.Target(
            user_id=self.id,
            holds_admin_role=self.holds_admin_role,
            beyond_authentication_administrator_reach=self.beyond_authentication_administrator_reach,
            is_licensed=self.is_licensed,
        )


def target_rows(users: QuerySet[DirectoryUser]) -> list[TargetRow]:
    """The users as rows: a bulk step over 10k users never builds 10k model objects."""
    rows = (
        users.order_by()
        .annotate(
            registered=Exists(VerificationMethod.objects.filter(user=OuterRef("pk"))),
            holds_role=holds_any_role(),
            beyond_reach=holds_role_beyond_authentication_administrator_reach(),
        )
        .values_list(
            "id",
            "user_principal_name",
            "is_licensed",
            "mfa__state",
            "registered",
            "holds_role",
            "beyond_reach",
        )
    )
    return [
        TargetRow(
            id,
            upn,
            licensed,
            MfaState.DISABLED if state is None else MfaState(state),
            reg,
            admin,
            beyond,
        )
        for id, upn, licensed, state, reg, admin, beyond in rows.iterator(chunk_size=2000)
    ]


def permitted(
    users: QuerySet[DirectoryUser], context: ChangeContext, action: policy.Action
) -> tuple[list[TargetRow], Outcome]:
    """The rows the actor may change, and an outcome listing the others as skipped."""
    actor = policy.Actor.of(context)
    outcome = Outcome()
    allowed: list[TargetRow] = []
    for row in target_rows(users):
        if refusal := policy.may_change(actor, row.target, action):
            outcome.skipped.append(UserResult(row.upn, refusal))
        else:
            allowed.append(row)
    return allowed, outcome


def mfa_rows_ensure(user_ids: Iterable[int]) -> None:
    """Every user here has a ``UserMfa`` row. Only the missing ones are inserted: most users
    have one, and an INSERT ... ON CONFLICT of every id costs a 10k step about a second."""
    for chunk in chunked(user_ids):
        present = set(UserMfa.objects.filter(user_id__in=chunk).values_list("user_id", flat=True))
        missing = [user_id for user_id in chunk if user_id not in present]
        if missing:
            UserMfa.objects.bulk_create(
                [UserMfa(user_id=user_id) for user_id in missing], ignore_conflicts=True
            )
