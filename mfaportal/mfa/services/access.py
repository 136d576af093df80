"""Where and how a user stays signed in: remembered devices, sessions, a fraud-report block."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.chunks import chunked
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.interface import Directory, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.models import RememberedDevice, UserMfa
from mfaportal.mfa.services.targets import mfa_rows_ensure, permitted


def remembered_devices_restore(
    *,
    users: QuerySet[DirectoryUser],
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """ "Restore multi-factor authentication on all remembered devices": every remembered
    device token issued before now stops working. Users the directory cannot do this for
    (external users in graph mode) are skipped with its reason: nothing is reported done
    that was not."""
    directory = directory or get_directory()
    rows, outcome = permitted(users, context, policy.Action.REMEMBERED_DEVICES)
    unreachable = directory.remembered_devices_unreachable(user_ids=[row.id for row in rows])
    outcome.skipped += [
        UserResult(row.upn, unreachable[row.id]) for row in rows if row.id in unreachable
    ]
    rows = [row for row in rows if row.id not in unreachable]
    ids = [row.id for row in rows]
    now = timezone.now()
    with transaction.atomic():
        mfa_rows_ensure(ids)
        for chunk in chunked(ids):
            UserMfa.objects.filter(user_id__in=chunk).update(remember_devices_not_issued_before=now)
            RememberedDevice.objects.filter(user_id__in=chunk).delete()
        directory.remembered_devices_restore(user_ids=ids, at=now, context=context)
        audit_record_many(
            context,
            [
                AuditEntry(
                    "mfa.remembered_devices_restored", row.id, row.upn, after=now.isoformat()
                )
                for row in rows
            ],
        )
    outcome.changed += [UserResult(row.upn) for row in rows]
    return outcome


def sessions_revoke(
    *,
    users: QuerySet[DirectoryUser],
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """Sign the users out of every session (those the directory cannot sign out are skipped
    with its reason)."""
    directory = directory or get_directory()
    rows, outcome = permitted(users, context, policy.Action.SESSIONS)
    unreachable = directory.sessions_unreachable(user_ids=[row.id for row in rows])
    outcome.skipped += [
        UserResult(row.upn, unreachable[row.id]) for row in rows if row.id in unreachable
    ]
    rows = [row for row in rows if row.id not in unreachable]
    ids = [row.id for row in rows]
    with transaction.atomic():
        directory.sessions_revoke(user_ids=ids, context=context)
        audit_record_many(
            context, [AuditEntry("directory.sessions_revoked", row.id, row.upn) for row in rows]
        )
    outcome.changed += [UserResult(row.upn) for row in rows]
    return outcome


def fraud_block_lift(*, users: QuerySet[DirectoryUser], context: ChangeContext) -> Outcome:
    """Let users who were blocked by a fraud report sign in with MFA again."""
    rows, outcome = permitted(users, context, policy.Action.FRAUD_BLOCK)
    ids = [row.id for row in rows]
    with transaction.atomic():
        blocked: dict[int, datetime] = {}
        for chunk in chunked(ids):
            blocked.update(
                (user_id, at)
                for user_id, at in UserMfa.objects.filter(
                    user_id__in=chunk, blocked_for_fraud_at__isnull=False
                )
                .select_for_update()
                .values_list("user_id", "blocked_for_fraud_at")
                if at is not None
            )
        for chunk in chunked(blocked):
            UserMfa.objects.filter(user_id__in=chunk).update(
                blocked_for_fraud_at=None, updated_at=timezone.now()
            )
        audit_record_many(
            context,
            [
                AuditEntry(
                    "mfa.fraud_block_lifted",
                    row.id,
                    row.upn,
                    before=blocked[row.id].isoformat(),
                    after="",
                )
                for row in rows
                if row.id in blocked
            ],
        )
    outcome.changed += [UserResult(row.upn) for row in rows if row.id in blocked]
    outcome.unchanged += [UserResult(row.upn) for row in rows if row.id not in blocked]
    return outcome
