"""Self-service changes to a user's own verification methods. Keyword-only, audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record, audit_record_many
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import totp
from mfaportal.mfa.models import MethodType, MfaState, UserMfa, VerificationMethod
from mfaportal.mfa.selectors import strong_authentication_methods
from mfaportal.mfa.services import mfa_registration_complete

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


def _default_after_change(user: DirectoryUser, preferred: str = "") -> str:
    """Keep the preferred option if it is still available, else the first that is."""
    methods = list(VerificationMethod.objects.filter(user=user))
    current = (
        preferred
        or UserMfa.objects.filter(user=user).values_list("default_method", flat=True).first()
        or ""
    )
    listed = strong_authentication_methods(methods, current)
    return next((m["methodType"] for m in listed if m["isDefault"]), "")


def _save_default(user: DirectoryUser, default: str) -> None:
    UserMfa.objects.get_or_create(user=user)
    UserMfa.objects.filter(user=user).update(default_method=default, updated_at=timezone.now())


def _app_create(user: DirectoryUser, app: NewApp) -> VerificationMethod:
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


def _phone_put(user: DirectoryUser, phone: NewPhone) -> VerificationMethod:
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


def registration_save(
    *,
    user: DirectoryUser,
    phones: list[NewPhone],
    app: NewApp | None,
    default_method: str,
    context: ChangeContext,
) -> MfaState:
    """Save what the registration wizard verified, all or nothing, then complete the
    registration (an Enabled user becomes Enforced)."""
    with transaction.atomic():
        saved = [_phone_put(user, phone) for phone in phones]
        if app is not None:
            saved.append(_app_create(user, app))
        _save_default(user, _default_after_change(user, default_method))
        audit_record_many(
            context,
            [
                AuditEntry.about(user, "mfa.method_registered", after=method.get_kind_display())
                for method in saved
            ],
        )
        state = mfa_registration_complete(user=user, context=context)
    logger.info("user %s registered %s method(s)", user.pk, len(saved))
    return state


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
        method = _phone_put(user, phone)
        _save_default(user, _default_after_change(user))
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
    from mfaportal.mfa.phones import phone_mask

    return phone_mask(e164) if e164 else ""


def authenticator_app_add(
    *, user: DirectoryUser, app: NewApp, context: ChangeContext
) -> VerificationMethod:
    with transaction.atomic():
        method = _app_create(user, app)
        _save_default(user, _default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_registered",
                after=method.get_kind_display(),
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
        label = method.get_kind_display()
        method.delete()
        _save_default(user, _default_after_change(user))
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
        _save_default(user, method_type)
        audit_record(
            context, AuditEntry.about(user, "mfa.default_method", before=before, after=method_type)
        )
