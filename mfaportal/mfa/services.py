"""State changes of the MFA domain. The rules of DESIGN §3 live here, once.

Every page, the CSV bulk update, the CLI and sync call these functions, so they cannot
drift apart. Each takes the users as a queryset (a bulk step over 10k users never loads
10k model objects), a ``ChangeContext`` saying who acts from where, and optionally the
Directory to write through (tests hand one in).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.models import AuditSource
from mfaportal.core.roles import PortalRole
from mfaportal.directory.interface import Directory, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AppPassword, MfaState, UserMfa, VerificationMethod


@dataclass
class UserOutcome:
    user_principal_name: str
    reason: str = ""


@dataclass
class BulkOutcome:
    """What a bulk step did, per user, for the *Updates successful* dialog and the CSV."""

    changed: list[UserOutcome] = field(default_factory=list)
    unchanged: list[UserOutcome] = field(default_factory=list)
    skipped: list[UserOutcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.changed) + len(self.unchanged) + len(self.skipped)

    def merge(self, other: BulkOutcome) -> None:
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.skipped += other.skipped


@dataclass(frozen=True)
class _Row:
    id: int
    upn: str
    is_licensed: bool
    state: int
    registered: bool
    holds_admin_role: bool


def _rows(users: QuerySet[DirectoryUser]) -> list[_Row]:
    rows = (
        users.order_by()
        .annotate(
            registered=Exists(VerificationMethod.objects.filter(user=OuterRef("pk"))),
            holds_role=Exists(
                DirectoryUser.roles.through.objects.filter(directoryuser_id=OuterRef("pk"))
            ),
        )
        .values_list(
            "id",
            "user_principal_name",
            "is_licensed",
            "mfa__state",
            "registered",
            "holds_role",
        )
    )
    return [
        _Row(id, upn, licensed, MfaState.DISABLED if state is None else state, registered, admin)
        for id, upn, licensed, state, registered, admin in rows.iterator(chunk_size=2000)
    ]


def _refusal(context: ChangeContext, row: _Row) -> str:
    """Why the actor may not change this user at all, or '' when they may."""
    if (
        context.actor is not None
        # The self-service pages act on the person's own account, whatever their role.
        and not (context.source == AuditSource.SELF_SERVICE and context.actor.pk == row.id)
        and context.actor.portal_role == PortalRole.HELPDESK
        and row.holds_admin_role
    ):
        return _("Authentication administrators can't change users who hold an admin role.")
    return ""


def resulting_state(requested: MfaState, *, registered: bool) -> MfaState:
    """Enabling a user who has already registered makes them Enforced (Microsoft's rule)."""
    if requested == MfaState.ENABLED and registered:
        return MfaState.ENFORCED
    return requested


def _ensure_mfa_rows(user_ids: list[int]) -> None:
    # Insert only the missing rows: most users have one, and an INSERT ... ON CONFLICT of
    # every id costs a bulk step on 10k users about a second.
    for start in range(0, len(user_ids), 500):
        chunk = user_ids[start : start + 500]
        present = set(UserMfa.objects.filter(user_id__in=chunk).values_list("user_id", flat=True))
        missing = [user_id for user_id in chunk if user_id not in present]
        if missing:
            UserMfa.objects.bulk_create(
                [UserMfa(user_id=user_id) for user_id in missing], ignore_conflicts=True
            )


def mfa_state_set(
    *,
    users: QuerySet[DirectoryUser],
    state: MfaState,
    context: ChangeContext,
    directory: Directory | None = None,
) -> BulkOutcome:
    """Enable, enforce or disable multi-factor authentication for these users."""
    directory = directory or get_directory()
    outcome = BulkOutcome()
    by_target: dict[MfaState, list[_Row]] = defaultdict(list)
    for row in _rows(users):
        if refusal := _refusal(context, row):
            outcome.skipped.append(UserOutcome(row.upn, refusal))
            continue
        if state != MfaState.DISABLED and not row.is_licensed:
            outcome.skipped.append(
                UserOutcome(
                    row.upn, _("Only licensed users are eligible for multi-factor authentication.")
                )
            )
            continue
        target = resulting_state(state, registered=row.registered)
        if target == row.state:
            outcome.unchanged.append(UserOutcome(row.upn))
            continue
        by_target[target].append(row)

    entries: list[AuditEntry] = []
    with transaction.atomic():
        for target, rows in by_target.items():
            ids = [row.id for row in rows]
            _ensure_mfa_rows(ids)
            directory.mfa_states_write(user_ids=ids, state=target, context=context)
            for row in rows:
                before = MfaState(row.state).label
                entries.append(
                    AuditEntry(
                        action="mfa.state",
                        target_id=row.id,
                        target_label=row.upn,
                        before=str(before),
                        after=str(target.label),
                    )
                )
                reason = (
                    _("Already registered, so Enabled became Enforced.") if target != state else ""
                )
                outcome.changed.append(UserOutcome(row.upn, reason))
        audit_record_many(context, entries)
    return outcome


def _apply_to_each(
    users: QuerySet[DirectoryUser], context: ChangeContext
) -> tuple[list[_Row], BulkOutcome]:
    outcome = BulkOutcome()
    allowed: list[_Row] = []
    for row in _rows(users):
        if refusal := _refusal(context, row):
            outcome.skipped.append(UserOutcome(row.upn, refusal))
        else:
            allowed.append(row)
    return allowed, outcome


def mfa_reregistration_require(
    *,
    users: QuerySet[DirectoryUser],
    context: ChangeContext,
    directory: Directory | None = None,
) -> BulkOutcome:
    """ "Require selected users to provide contact methods again": the registration is
    cleared and the user registers again at next sign-in."""
    directory = directory or get_directory()
    rows, outcome = _apply_to_each(users, context)
    ids = [row.id for row in rows]
    with transaction.atomic():
        _ensure_mfa_rows(ids)
        directory.methods_delete(user_ids=ids, context=context)
        for start in range(0, len(ids), 500):
            UserMfa.objects.filter(user_id__in=ids[start : start + 500]).update(
                must_register=True, default_method="", updated_at=timezone.now()
            )
        audit_record_many(
            context,
            [AuditEntry("mfa.reregistration_required", row.id, row.upn) for row in rows],
        )
    outcome.changed += [UserOutcome(row.upn) for row in rows]
    return outcome


def app_passwords_delete_all(
    *, users: QuerySet[DirectoryUser], context: ChangeContext
) -> BulkOutcome:
    """ "Delete all existing app passwords generated by the selected users"."""
    rows, outcome = _apply_to_each(users, context)
    entries = []
    with transaction.atomic():
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            counts: dict[int, int] = defaultdict(int)
            for user_id in AppPassword.objects.filter(
                user_id__in=[row.id for row in chunk]
            ).values_list("user_id", flat=True):
                counts[user_id] += 1
            AppPassword.objects.filter(user_id__in=[row.id for row in chunk]).delete()
            for row in chunk:
                entries.append(
                    AuditEntry(
                        "mfa.app_passwords_deleted",
                        row.id,
                        row.upn,
                        before=str(counts[row.id]),
                        after="0",
                    )
                )
        audit_record_many(context, entries)
    outcome.changed += [UserOutcome(row.upn) for row in rows]
    return outcome


def remembered_devices_restore(
    *,
    users: QuerySet[DirectoryUser],
    context: ChangeContext,
    directory: Directory | None = None,
) -> BulkOutcome:
    """ "Restore multi-factor authentication on all remembered devices"."""
    directory = directory or get_directory()
    rows, outcome = _apply_to_each(users, context)
    ids = [row.id for row in rows]
    now = timezone.now()
    with transaction.atomic():
        _ensure_mfa_rows(ids)
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
    outcome.changed += [UserOutcome(row.upn) for row in rows]
    return outcome


def sessions_revoke(
    *,
    users: QuerySet[DirectoryUser],
    context: ChangeContext,
    directory: Directory | None = None,
) -> BulkOutcome:
    """Sign the users out of every session."""
    directory = directory or get_directory()
    rows, outcome = _apply_to_each(users, context)
    ids = [row.id for row in rows]
    with transaction.atomic():
        directory.sessions_revoke(user_ids=ids, context=context)
        audit_record_many(
            context, [AuditEntry("directory.sessions_revoked", row.id, row.upn) for row in rows]
        )
    outcome.changed += [UserOutcome(row.upn) for row in rows]
    return outcome


def mfa_registration_complete(
    *, user: DirectoryUser, context: ChangeContext, directory: Directory | None = None
) -> MfaState:
    """A user finished registering: clear must-register, and Enabled becomes Enforced."""
    directory = directory or get_directory()
    with transaction.atomic():
        mfa, _created = UserMfa.objects.select_for_update().get_or_create(user=user)
        entries = []
        if mfa.must_register:
            UserMfa.objects.filter(pk=mfa.pk).update(must_register=False, updated_at=timezone.now())
        if mfa.state == MfaState.ENABLED:
            directory.mfa_states_write(user_ids=[user.pk], state=MfaState.ENFORCED, context=context)
            entries.append(
                AuditEntry.about(
                    user,
                    "mfa.state",
                    before=str(MfaState.ENABLED.label),
                    after=str(MfaState.ENFORCED.label),
                    detail={"reason": "registration completed"},
                )
            )
        entries.append(AuditEntry.about(user, "mfa.registration_completed"))
        audit_record_many(context, entries)
        mfa.refresh_from_db()
    return MfaState(mfa.state)


def user_settings_manage(
    *,
    users: QuerySet[DirectoryUser],
    require_reregistration: bool,
    delete_app_passwords: bool,
    restore_remembered_devices: bool,
    context: ChangeContext,
    directory: Directory | None = None,
) -> BulkOutcome:
    """The *Manage user settings* dialog: any of its three options, in one transaction, with
    one outcome per user (changed when any option applied, skipped with the refusal)."""
    steps = []
    if require_reregistration:
        steps.append(
            lambda: mfa_reregistration_require(users=users, context=context, directory=directory)
        )
    if delete_app_passwords:
        steps.append(lambda: app_passwords_delete_all(users=users, context=context))
    if restore_remembered_devices:
        steps.append(
            lambda: remembered_devices_restore(users=users, context=context, directory=directory)
        )
    merged: dict[str, tuple[str, str]] = {}
    with transaction.atomic():
        for step in steps:
            result = step()
            for kind in ("changed", "unchanged", "skipped"):
                for item in getattr(result, kind):
                    # A refusal is the same for every option, so the first answer holds.
                    merged.setdefault(item.user_principal_name, (kind, item.reason))
    outcome = BulkOutcome()
    for upn, (kind, reason) in merged.items():
        getattr(outcome, kind).append(UserOutcome(upn, reason))
    return outcome


def service_settings_update(*, changes: dict[str, object], context: ChangeContext) -> list[str]:
    """Save the service settings tab; one audit event names each changed setting."""
    from mfaportal.mfa.models import ServiceSettings

    with transaction.atomic():
        current = ServiceSettings.objects.select_for_update().get(pk=ServiceSettings.load().pk)
        changed = [name for name, value in changes.items() if getattr(current, name) != value]
        if not changed:
            return []
        entries = [
            AuditEntry(
                "settings.updated",
                before=str(getattr(current, name)),
                after=str(changes[name]),
                detail={"setting": name},
            )
            for name in changed
        ]
        for name in changed:
            setattr(current, name, changes[name])
        current.updated_at = timezone.now()
        current.save(update_fields=[*changed, "updated_at"])
        audit_record_many(context, entries)
    return changed


def fraud_block_lift(*, users: QuerySet[DirectoryUser], context: ChangeContext) -> BulkOutcome:
    """Let users who were blocked by a fraud report sign in with MFA again."""
    rows, outcome = _apply_to_each(users, context)
    ids = [row.id for row in rows]
    with transaction.atomic():
        blocked: dict[int, datetime] = {
            user_id: at
            for user_id, at in UserMfa.objects.filter(
                user_id__in=ids, blocked_for_fraud_at__isnull=False
            )
            .select_for_update()
            .values_list("user_id", "blocked_for_fraud_at")
            if at is not None
        }
        UserMfa.objects.filter(user_id__in=list(blocked)).update(
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
    outcome.changed += [UserOutcome(row.upn) for row in rows if row.id in blocked]
    outcome.unchanged += [UserOutcome(row.upn) for row in rows if row.id not in blocked]
    return outcome
