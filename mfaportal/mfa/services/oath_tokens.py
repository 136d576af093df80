"""Hardware OATH tokens (issue 16.3): upload, activate, deactivate, delete.

A token's key is encrypted at rest bound to its serial number. Activation proves the person
holds it (a code from it, counted against a race-free limit per token) and turns it into a
``VerificationMethod`` of kind ``hardware_token`` whose key is sealed to the user, so every
place that takes "Verification code from mobile app or hardware token" takes its codes, with
the same drift window, replay refusal and lockout (``challenges.totp_check``).

Who may: uploading, listing and deleting tokens needs ``MANAGE_METHODS`` (the views ask);
assigning, activating or deactivating one on a user asks ``policy.may_change`` with
``Action.HARDWARE_TOKENS`` (an Authentication Administrator only within its reach); a
person activates their own token on their own page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record, audit_record_many
from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy, throttle, totp
from mfaportal.mfa.bulk_csv import BulkRowError, Source
from mfaportal.mfa.challenges import Check
from mfaportal.mfa.models import HardwareOathToken, VerificationMethod
from mfaportal.mfa.oath_csv import token_file_parse
from mfaportal.mfa.services.methods import default_after_change, default_save

logger = logging.getLogger(__name__)

# Wrong codes while activating one token: as many as a method's free failures, then a pause.
ACTIVATE_LIMIT = throttle.Limit(count=5, window=timedelta(minutes=15), block=timedelta(minutes=15))


def _serial_data(serial_number: str) -> str:
    return f"hardware-oath:{serial_number}"


def token_secret(token: HardwareOathToken) -> str:
    return totp.secret_open(
        token.secret_ciphertext,
        key_id=token.secret_key_id,
        object_id=_serial_data(token.serial_number),
    )


@dataclass
class TokenUpload:
    """What an upload did: tokens stored, and the lines refused with their reasons."""

    created: int = 0
    errors: list[BulkRowError] = field(default_factory=list)
    fatal: str = ""


def oath_tokens_upload(*, data: Source, context: ChangeContext) -> TokenUpload:
    """Store every valid line of an Entra-format token file; a line naming a user the actor
    may not change is refused with the reason, the others apply."""
    known = {
        serial
        for serial in HardwareOathToken.objects.annotate(low=Lower("serial_number")).values_list(
            "low", flat=True
        )
    }
    parsed = token_file_parse(data, known_serials=known)
    if parsed.fatal:
        return TokenUpload(fatal=parsed.fatal)
    result = TokenUpload(errors=list(parsed.errors))
    actor = policy.Actor.of(context)
    targets = {
        user.pk: user
        for chunk in chunked(sorted({row.user_id for row in parsed.rows if row.user_id}))
        for user in DirectoryUser.objects.filter(pk__in=chunk).prefetch_related("roles")
    }
    for chunk in chunked(parsed.rows):
        tokens: list[HardwareOathToken] = []
        entries: list[AuditEntry] = []
        for row in chunk:
            target = targets.get(row.user_id) if row.user_id else None
            if target is not None:
                reason = policy.may_change(
                    actor, policy.Target.of(target), policy.Action.HARDWARE_TOKENS
                )
                if reason:
                    result.errors.append(BulkRowError(row.line, row.serial_number, reason))
                    continue
            ciphertext, key_id = totp.secret_seal(
                row.secret, object_id=_serial_data(row.serial_number)
            )
            tokens.append(
                HardwareOathToken(
                    serial_number=row.serial_number,
                    manufacturer=row.manufacturer,
                    model=row.model,
                    time_interval=row.time_interval,
                    secret_ciphertext=ciphertext,
                    secret_key_id=key_id,
                    user=target,
                )
            )
            entries.append(
                AuditEntry(
                    "mfa.hardware_token_uploaded",
                    target.pk if target else None,
                    target.get_username() if target else "",
                    after=row.serial_number,
                    detail={"serial_number": row.serial_number, "line": row.line},
                )
            )
        with transaction.atomic():
            HardwareOathToken.objects.bulk_create(tokens)
            audit_record_many(context, entries)
        result.created += len(tokens)
    result.errors.sort(key=lambda error: error.line)
    logger.info(
        "hardware tokens uploaded: %d, lines refused: %d", result.created, len(result.errors)
    )
    return result


def _refusal(context: ChangeContext, user: DirectoryUser) -> str:
    return policy.may_change(
        policy.Actor.of(context), policy.Target.of(user), policy.Action.HARDWARE_TOKENS
    )


def oath_token_assign(*, token_id: int, user_principal_name: str, context: ChangeContext) -> str:
    """Assign a spare (unassigned) token to the user named. '' or why not."""
    user = DirectoryUser.objects.by_upn(user_principal_name.strip()).first()
    if user is None:
        return _("User does not exist in this directory.")
    if reason := _refusal(context, user):
        return reason
    with transaction.atomic():
        assigned = HardwareOathToken.objects.filter(pk=token_id, user__isnull=True).update(
            user=user
        )
        if not assigned:
            return _("That hardware token is no longer unassigned.")
        serial = HardwareOathToken.objects.values_list("serial_number", flat=True).get(pk=token_id)
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.hardware_token_assigned",
                after=serial,
                detail={"serial_number": serial},
            ),
        )
    return ""


def oath_token_activate(
    *, token_id: int, user: DirectoryUser, code: str, context: ChangeContext
) -> Check:
    """Activate the user's assigned token with a code from it. The attempt is reserved
    before the check, so parallel wrong codes never get more tries than the limit; the code
    that activates it can't be used again to sign in."""
    if reason := _refusal(context, user):
        return Check("refused", reason)
    counters = [throttle.Counter(f"oath-activate:{token_id}", ACTIVATE_LIMIT)]
    if blocked := throttle.attempt_reserve(counters):
        return Check("locked", throttle.lockout_message(blocked))
    with transaction.atomic():
        token = (
            HardwareOathToken.objects.select_for_update()
            .filter(pk=token_id, user=user, method__isnull=True)
            .first()
        )
        if token is None:
            throttle.attempt_succeeded(counters)
            return Check("expired", _("That hardware token is no longer waiting to be activated."))
        secret = token_secret(token)
        step = totp.matching_step(secret, code, period=token.time_interval)
        if step is None:
            throttle.attempt_failed(counters)
            return Check("wrong", _("That code isn't right. Check it and try again."))
        ciphertext, key_id = totp.secret_seal(secret, object_id=str(user.object_id))
        now = timezone.now()
        method = VerificationMethod.objects.create(
            user=user,
            kind=VerificationMethod.Kind.HARDWARE_TOKEN,
            device_name=token.label[:128],
            secret_ciphertext=ciphertext,
            secret_key_id=key_id,
            last_used_step=step,
            created_at=now,
        )
        token.method, token.activated_at = method, now
        token.save(update_fields=["method", "activated_at"])
        default_save(user, default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.hardware_token_activated",
                after=token.serial_number,
                detail={"serial_number": token.serial_number},
            ),
        )
    throttle.attempt_succeeded(counters)
    return Check("ok", step=step)


def oath_token_deactivate(*, token_id: int, context: ChangeContext) -> str:
    """Take an activated token out of sign-in; it stays assigned to its user (who may
    activate it again). '' or why not."""
    with transaction.atomic():
        token = (
            HardwareOathToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=token_id)
            .first()
        )
        if token is None or token.user is None or token.method_id is None:
            return _("That hardware token isn't activated.")
        if reason := _refusal(context, token.user):
            return reason
        VerificationMethod.objects.filter(pk=token.method_id).delete()
        token.refresh_from_db(fields=["method"])
        token.activated_at = None
        token.save(update_fields=["activated_at"])
        default_save(token.user, default_after_change(token.user))
        audit_record(
            context,
            AuditEntry.about(
                token.user,
                "mfa.hardware_token_deactivated",
                before=token.serial_number,
                detail={"serial_number": token.serial_number},
            ),
        )
    return ""


def oath_token_delete(*, token_id: int, context: ChangeContext) -> str:
    """Delete a token (and the sign-in method it became). '' or why not."""
    with transaction.atomic():
        token = (
            HardwareOathToken.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=token_id)
            .first()
        )
        if token is None:
            return _("That hardware token no longer exists.")
        owner = token.user
        if owner is not None and (reason := _refusal(context, owner)):
            return reason
        serial = token.serial_number
        if token.method_id is not None:
            VerificationMethod.objects.filter(pk=token.method_id).delete()
        token.delete()
        if owner is not None:
            default_save(owner, default_after_change(owner))
        audit_record(
            context,
            AuditEntry(
                "mfa.hardware_token_deleted",
                owner.pk if owner else None,
                owner.get_username() if owner else "",
                before=serial,
                detail={"serial_number": serial},
            ),
        )
    return ""
