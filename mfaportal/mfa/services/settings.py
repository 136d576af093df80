"""The tenant's service settings tab and the *Manage user settings* dialog."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.outcome import Outcome
from mfaportal.directory.interface import Directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.models import ServiceSettings
from mfaportal.mfa.services.access import remembered_devices_restore
from mfaportal.mfa.services.app_passwords import app_passwords_delete_all
from mfaportal.mfa.services.methods import mfa_reregistration_require


def user_settings_manage(
    *,
    users: QuerySet[DirectoryUser],
    require_reregistration: bool,
    delete_app_passwords: bool,
    restore_remembered_devices: bool,
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """The *Manage user settings* dialog: any of its three options, in one transaction, with
    one outcome per user (changed when any option applied, skipped with the refusal)."""
    outcomes = []
    with transaction.atomic():
        if require_reregistration:
            outcomes.append(
                mfa_reregistration_require(users=users, context=context, directory=directory)
            )
        if delete_app_passwords:
            outcomes.append(app_passwords_delete_all(users=users, context=context))
        if restore_remembered_devices:
            outcomes.append(
                remembered_devices_restore(users=users, context=context, directory=directory)
            )
    return Outcome.per_user(outcomes)


def service_settings_update(*, changes: dict[str, object], context: ChangeContext) -> list[str]:
    """Save the service settings tab; one audit event names each changed setting. Refused
    (PermissionDenied) to those whose role may not change them."""
    if refusal := policy.may_change_settings(policy.Actor.of(context)):
        raise PermissionDenied(refusal)
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
