"""Per-user MFA state: enable, enforce, disable, and the Enforced that registration brings."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_bulk
from mfaportal.core.chunks import chunked
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.interface import Directory, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.mfa.services.targets import TargetRow, mfa_rows_ensure, target_rows


def mfa_states_record(user_ids: list[int], state: MfaState) -> None:
    """The cache shows ``state`` for these users (who all have a ``UserMfa`` row)."""
    now = timezone.now()
    for chunk in chunked(user_ids):
        UserMfa.objects.filter(user_id__in=chunk).update(state=state, updated_at=now)


def mfa_state_set(
    *,
    users: QuerySet[DirectoryUser],
    state: MfaState,
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """Enable, enforce or disable multi-factor authentication for these users."""
    directory = directory or get_directory()
    actor = policy.Actor.of(context)
    outcome = Outcome()
    by_target: dict[MfaState, list[TargetRow]] = defaultdict(list)
    for row in target_rows(users):
        refusal = policy.may_change(actor, row.target, policy.Action.STATE) or policy.eligible(
            row.target, state
        )
        if refusal:
            outcome.skipped.append(UserResult(row.upn, refusal))
            continue
        target = policy.resulting_state(state, registered=row.registered)
        if target == row.state:
            outcome.unchanged.append(UserResult(row.upn))
            continue
        by_target[target].append(row)

    entries: list[AuditEntry] = []
    with transaction.atomic():
        for target, rows in by_target.items():
            ids = [row.id for row in rows]
            mfa_rows_ensure(ids)
            mfa_states_record(ids, target)
            directory.mfa_states_write(
                user_ids=ids,
                state=target,
                previous={row.id: int(row.state) for row in rows},
                context=context,
            )
            for row in rows:
                entries.append(
                    AuditEntry(
                        action="mfa.state",
                        target_id=row.id,
                        target_label=row.upn,
                        before=row.state.code,
                        after=target.code,
                    )
                )
                reason = (
                    _("Already registered, so Enabled became Enforced.") if target != state else ""
                )
                outcome.changed.append(UserResult(row.upn, reason))
        audit_record_bulk(context, entries)
    return outcome
