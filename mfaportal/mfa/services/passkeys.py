"""Passkeys and security keys: saved once the ceremony is verified (``mfa/passkeys.py``),
renamed, and their counter moved on at each sign-in. Deleting one is
``methods.verification_method_delete``, as for every method."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.interface import Delivery, Directory, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import passkeys, policy, throttle
from mfaportal.mfa.models import MethodType, MfaState, PasskeyCredential, VerificationMethod
from mfaportal.mfa.passkeys import Assertion, NewPasskey, PasskeyRefused, RelyingParty, aaguid_name
from mfaportal.mfa.services.methods import (
    MethodChangeRefused,
    default_after_change,
    default_save,
)
from mfaportal.mfa.services.registration import mfa_registration_complete
from mfaportal.mfa.services.targets import permitted

NAME_MAX = 64


def passkey_name_clean(name: str) -> str:
    """A name the person gave, trimmed; ``MethodChangeRefused`` if too long."""
    cleaned = " ".join(name.split())
    if len(cleaned) > NAME_MAX:
        raise MethodChangeRefused(
            _("Give the security key or passkey a name of at most %(count)d characters.")
            % {"count": NAME_MAX}
        )
    return cleaned


def _create(user: DirectoryUser, passkey: NewPasskey, name: str) -> VerificationMethod:
    method = VerificationMethod.objects.create(
        user=user,
        kind=VerificationMethod.Kind.PASSKEY,
        device_name=name or aaguid_name(passkey.aaguid) or _("Security key or passkey"),
    )
    PasskeyCredential.objects.create(
        method=method,
        credential_id=passkey.credential_id,
        public_key=passkey.public_key,
        sign_count=passkey.sign_count,
        aaguid=passkey.aaguid,
        attestation_format=passkey.attestation_format,
        attestation_object=passkey.attestation_object,
        transports=passkey.transports,
        backed_up=passkey.backed_up,
    )
    return method


def _refuse_if_known(passkey: NewPasskey) -> None:
    if PasskeyCredential.objects.filter(credential_id=passkey.credential_id).exists():
        raise MethodChangeRefused(_("This security key or passkey is registered already."))


def passkey_add(
    *, user: DirectoryUser, passkey: NewPasskey, name: str, context: ChangeContext
) -> VerificationMethod:
    """A passkey registered from *Additional security verification*."""
    name = passkey_name_clean(name)
    with transaction.atomic():
        _refuse_if_known(passkey)
        method = _create(user, passkey, name)
        default_save(user, default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_registered",
                after=method.kind,
                detail={"aaguid": passkey.aaguid, "attestation": passkey.attestation_format},
            ),
        )
    return method


def passkey_registration_save(
    *, user: DirectoryUser, passkey: NewPasskey, name: str, context: ChangeContext
) -> MfaState:
    """A passkey registered at enrolment (*More information required*): saved as the default,
    and the registration completes (an Enabled user becomes Enforced)."""
    name = passkey_name_clean(name)
    with transaction.atomic():
        _refuse_if_known(passkey)
        method = _create(user, passkey, name)
        default_save(user, default_after_change(user, MethodType.PASSKEY))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_registered",
                after=method.kind,
                detail={"aaguid": passkey.aaguid, "attestation": passkey.attestation_format},
            ),
        )
        return mfa_registration_complete(user=user, context=context)


def passkey_rename(
    *, user: DirectoryUser, method_id: int, name: str, context: ChangeContext
) -> bool:
    """Name one of the user's own passkeys; False if it is not theirs (or gone)."""
    name = passkey_name_clean(name)
    if not name:
        raise MethodChangeRefused(_("Give the security key or passkey a name."))
    with transaction.atomic():
        method = (
            VerificationMethod.objects.select_for_update()
            .filter(pk=method_id, user=user, kind=VerificationMethod.Kind.PASSKEY)
            .first()
        )
        if method is None:
            return False
        before = method.device_name
        if before == name:
            return True
        VerificationMethod.objects.filter(pk=method.pk).update(device_name=name)
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_changed",
                before=before,
                after=name,
                detail={"kind": VerificationMethod.Kind.PASSKEY},
            ),
        )
    return True


def passkey_signin_check(
    *,
    user: DirectoryUser,
    response: str,
    challenge: str,
    rp: RelyingParty,
    shown_method_id: int | None,
) -> Assertion:
    """An answer at the sign-in challenge, throttled like a code: each refused answer counts
    against the passkey it names (or, naming none of the user's, the one the page offered),
    enough of them lock it for a while (``throttle``'s free failures, then 1, 2, 4 ...
    minutes), and a verified answer clears the count. Call inside a transaction."""
    method_id = passkeys.answer_method_id(user=user, response=response) or shown_method_id
    method = (
        VerificationMethod.objects.select_for_update()
        .filter(pk=method_id, user=user, kind=VerificationMethod.Kind.PASSKEY)
        .first()
        if method_id
        else None
    )
    if method is not None and (locked := throttle.method_locked_for(method)):
        raise PasskeyRefused(throttle.lockout_message(locked), locked=True)
    try:
        assertion = passkeys.authentication_finish(
            user=user, response=response, challenge=challenge, rp=rp
        )
        passkey_use_record(assertion=assertion)
    except PasskeyRefused as refused:
        if method is not None and (locked := throttle.method_failure_record(method.pk)):
            raise PasskeyRefused(throttle.lockout_message(locked), locked=True) from refused
        raise
    throttle.method_failures_clear(assertion.method_id)
    return assertion


def passkey_use_record(*, assertion: Assertion) -> None:
    """A verified sign-in moves the credential's counter on, only forward: of two
    answers carrying the same counter (a replay racing the original, or a cloned key) the
    second is refused. An authenticator that keeps no counter always sends 0."""
    if assertion.new_sign_count == 0:
        counter_moves = Q(sign_count=0)
    else:
        counter_moves = Q(sign_count__lt=assertion.new_sign_count)
    updated = PasskeyCredential.objects.filter(
        counter_moves, pk=assertion.method_id, credential_id=assertion.credential_id
    ).update(sign_count=assertion.new_sign_count, last_used_at=timezone.now())
    if not updated:
        raise PasskeyRefused(
            _(
                "Your security key or passkey could not be verified: its signature counter "
                "went backwards, which a copied key would do."
            )
        )


def passkey_delete_for(
    *,
    user: DirectoryUser,
    method_id: int,
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """A helpdesk agent or admin deletes one of a user's passkeys (a lost key): at once in
    local mode; in graph mode Graph deletes the fido2Method and the cache follows its answer
    (``passkeys_delete_answered``). The user's last method may go: they register again at
    the next sign-in."""
    directory = directory or get_directory()
    rows, outcome = permitted(
        DirectoryUser.objects.filter(pk=user.pk), context, policy.Action.REREGISTRATION
    )
    if not rows:
        return outcome
    method = VerificationMethod.objects.filter(
        pk=method_id, user=user, kind=VerificationMethod.Kind.PASSKEY
    ).first()
    if method is None:
        outcome.skipped.append(
            UserResult(rows[0].upn, _("That security key or passkey has been deleted already."))
        )
        return outcome
    with transaction.atomic():
        delivery = directory.passkey_delete(
            user_id=user.pk, name=method.device_name, context=context
        )
        if delivery == Delivery.APPLIED:
            method.delete()
            default_save(user, default_after_change(user))
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.method_deleted",
                before=VerificationMethod.Kind.PASSKEY,
                detail={"id": method_id, "name": method.device_name},
            ),
        )
    outcome.changed.append(UserResult(rows[0].upn))
    return outcome


def passkeys_delete_answered(*, deleted: dict[int, list[str]]) -> None:
    """Graph deleted these users' passkeys of these names: the cache forgets them too."""
    for user_id, names in deleted.items():
        with transaction.atomic():
            gone = VerificationMethod.objects.filter(
                user_id=user_id, kind=VerificationMethod.Kind.PASSKEY, device_name__in=names
            ).delete()[0]
            if gone:
                user = DirectoryUser.objects.get(pk=user_id)
                default_save(user, default_after_change(user))
