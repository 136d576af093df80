"""A user's verification methods: the person's own changes on their security info pages,
and the admin's *require selected users to provide contact methods again*."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record, audit_record_many
from mfaportal.core.chunks import chunked
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.interface import Delivery, Directory, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy, totp
from mfaportal.mfa.models import MethodType, MfaState, UserMfa, VerificationMethod
from mfaportal.mfa.phones import phone_mask
from mfaportal.mfa.selectors import strong_authentication_methods
from mfaportal.mfa.services.targets import mfa_rows_ensure, permitted

logger = logging.getLogger(__name__)
Kind = VerificationMethod.Kind


class MethodChangeRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class NewApp:
    """An authenticator app verified during registration or set-up, not yet saved."""

    mode: str
    secret: str
    last_used_step: int | None
    device_name: str = ""


@dataclass(frozen=True)
class NewPhone:
    kind: str
    phone_number: str
    extension: str = ""


def default_after_change(user: DirectoryUser, preferred: str = "") -> str:
    """Keep the preferred option if it is still available, else the first that is."""
    methods = list(VerificationMethod.objects.filter(user=user))
    current = (
        preferred
        or UserMfa.objects.filter(user=user).values_list("default_method", flat=True).first()
        or ""
    )
    listed = strong_authentication_methods(methods, current)
    return next((m["methodType"] for m in listed if m["isDefault"]), "")


def default_save(user: DirectoryUser, default: str) -> None:
    UserMfa.objects.get_or_create(user=user)
    UserMfa.objects.filter(user=user).update(default_method=default, updated_at=timezone.now())


def app_create(user: DirectoryUser, app: NewApp) -> VerificationMethod:
    ciphertext, key_id = totp.secret_seal(app.secret, object_id=str(user.object_id))
    return VerificationMethod.objects.create(
        user=user,
        kind=Kind.AUTHENTICATOR_APP,
        app_mode=app.mode,
        device_name=app.device_name or _("Authenticator app"),
        secret_ciphertext=ciphertext,
        secret_key_id=key_id,
        last_used_step=app.last_used_step,
    )


def phone_put(user: DirectoryUser, phone: NewPhone) -> VerificationMethod:
    method, _created = VerificationMethod.objects.update_or_create(
        user=user,
        kind=phone.kind,
        defaults={
            "phone_number": phone.phone_number,
            "extension": phone.extension,
            "failed_attempts": 0,
            "locked_until": None,
        },
    )
    return method


def phone_method_set(
    *, user: DirectoryUser, phone: NewPhone, context: ChangeContext
) -> VerificationMethod:
    """Add or change a verified phone (authentication, alternate or office)."""
    if phone.kind not in VerificationMethod.PHONE_KINDS:
        raise MethodChangeRefused(_("That isn't a phone method."))
    with transaction.atomic():
        before = (
            VerificationMethod.objects.filter(user=user, kind=phone.kind)
            .values_list("phone_number", flat=True)
            .first()
        )
        method = phone_put(user, phone)
        default_save(user, default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_changed" if before else "mfa.method_registered",
                before=_mask(before or ""),
                after=_mask(phone.phone_number),
                detail={"kind": phone.kind},
            ),
        )
    return method


def _mask(e164: str) -> str:
    return phone_mask(e164) if e164 else ""


def authenticator_app_add(
    *, user: DirectoryUser, app: NewApp, context: ChangeContext
) -> VerificationMethod:
    with transaction.atomic():
        method = app_create(user, app)
        default_save(user, default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_registered",
                after=method.kind,
                detail={"mode": app.mode},
            ),
        )
    return method


def verification_method_delete(
    *, user: DirectoryUser, method_id: int, context: ChangeContext
) -> bool:
    """Delete one of the user's own methods. The last one can't go while MFA is on: the user
    would be sent back to registration at the next sign-in."""
    with transaction.atomic():
        method = (
            VerificationMethod.objects.select_for_update().filter(pk=method_id, user=user).first()
        )
        if method is None:
            return False
        state = UserMfa.objects.filter(user=user).values_list("state", flat=True).first()
        others = VerificationMethod.objects.filter(user=user).exclude(pk=method.pk).count()
        if not others and state in (MfaState.ENABLED, MfaState.ENFORCED):
            raise MethodChangeRefused(
                _("This is your only verification method. Add another before deleting it.")
            )
        label = method.kind
        method.delete()
        default_save(user, default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user, "mfa.method_deleted", before=str(label), detail={"id": method_id}
            ),
        )
    return True


def default_method_set(*, user: DirectoryUser, method_type: str, context: ChangeContext) -> None:
    """The preferred option; only a MethodType the user's methods provide."""
    methods = list(VerificationMethod.objects.filter(user=user))
    available = {m["methodType"] for m in strong_authentication_methods(methods, "")}
    if method_type not in available or method_type not in MethodType.values:
        raise MethodChangeRefused(
            _("Set up that method before choosing it as your preferred option.")
        )
    before = (
        UserMfa.objects.filter(user=user).values_list("default_method", flat=True).first() or ""
    )
    if before == method_type:
        return
    with transaction.atomic():
        default_save(user, method_type)
        audit_record(
            context, AuditEntry.about(user, "mfa.default_method", before=before, after=method_type)
        )


def methods_forget(user_ids: list[int]) -> None:
    """The directory has deleted these users' methods: the cache forgets them too."""
    for chunk in chunked(user_ids):
        VerificationMethod.objects.filter(user_id__in=chunk).delete()
        UserMfa.objects.filter(user_id__in=chunk).update(default_method="")


def mfa_reregistration_require(
    *,
    users: QuerySet[DirectoryUser],
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """ "Require selected users to provide contact methods again": the registration is
    cleared and the user registers again at next sign-in."""
    directory = directory or get_directory()
    rows, outcome = permitted(users, context, policy.Action.REREGISTRATION)
    ids = [row.id for row in rows]
    with transaction.atomic():
        mfa_rows_ensure(ids)
        if directory.methods_delete(user_ids=ids, context=context) == Delivery.APPLIED:
            methods_forget(ids)
        # In graph mode the methods stay in the cache until Graph has deleted them.
        for chunk in chunked(ids):
            UserMfa.objects.filter(user_id__in=chunk).update(
                must_register=True, default_method="", updated_at=timezone.now()
            )
        audit_record_many(
            context,
            [AuditEntry("mfa.reregistration_required", row.id, row.upn) for row in rows],
        )
    outcome.changed += [UserResult(row.upn) for row in rows]
    return outcome
