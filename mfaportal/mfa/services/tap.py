"""Temporary Access Pass (DESIGN §5.8, issue 16.2): a time-limited pass a helpdesk agent or
admin issues so a person who lost their phone can sign in and register methods again.

Microsoft's rules (Graph, *Create temporaryAccessPassMethod* and the
*temporaryAccessPassAuthenticationMethod* resource): a lifetime of 10 to 43,200 minutes (30
days) from its start time (default one hour, from now), one-time or usable many times within
that lifetime, and one pass per user: issuing a new one replaces the old. The pass is
returned once, when it is created; only its keyed hash is kept. Signing in with it is checked
by the same race-free throttles as a password (``throttle.attempt_reserve``).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditSource
from mfaportal.core.modes import graph_mode
from mfaportal.directory.interface import Directory, DirectoryRefused, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy, throttle
from mfaportal.mfa.crypto import keyed_hash
from mfaportal.mfa.models import (
    SignInAsked,
    SignInClient,
    SignInReason,
    SignInResult,
    TemporaryAccessPass,
)
from mfaportal.mfa.services.signin_log import signin_record
from mfaportal.mfa.signin import (
    SIGN_IN_LIMITS,
    address_is_familiar,
    familiar_address_note,
    guess_counters,
    password_lockout_message,
)

logger = logging.getLogger(__name__)

# Microsoft's bounds (lifetimeInMinutes "must be between 10 and 43200 inclusive") and the
# default lifetime of the Temporary Access Pass policy (60 minutes).
LIFETIME_MIN_MINUTES = 10
LIFETIME_MAX_MINUTES = 43_200
LIFETIME_DEFAULT_MINUTES = 60
# A start time a little in the past is "now" typed slowly; earlier is a mistake.
START_LEEWAY = timedelta(minutes=5)
# Microsoft's passes are 8 to 48 characters; 12 from an alphabet without look-alikes
# (no 0/O, 1/l/I) is about 2^69 and easy to read out over the phone.
LENGTH = 12
ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class TemporaryAccessPassRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def temporary_access_pass_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def temporary_access_pass_digest(value: str) -> str:
    """Spaces don't matter when a person types it (it is read out over the phone)."""
    return keyed_hash("".join(value.split()), purpose="temporary-access-pass")


def lifetime_problem(minutes: int) -> str:
    """Why ``minutes`` is not a lifetime Microsoft allows, or ''."""
    if LIFETIME_MIN_MINUTES <= minutes <= LIFETIME_MAX_MINUTES:
        return ""
    return _(
        "Choose a lifetime between 10 minutes and 30 days (43,200 minutes): that is what "
        "Microsoft allows."
    )


def temporary_access_pass_create(
    *,
    user: DirectoryUser,
    lifetime_minutes: int = LIFETIME_DEFAULT_MINUTES,
    one_time: bool = False,
    starts_at: datetime | None = None,
    context: ChangeContext,
    directory: Directory | None = None,
) -> tuple[TemporaryAccessPass, str]:
    """Issue a pass for ``user``, replacing any they hold; the clear pass is returned once
    and never stored. In graph mode Microsoft Graph issues it (and checks it at sign-in):
    the portal keeps when it is valid, not the pass."""
    refused = policy.may_change(
        policy.Actor.of(context), policy.Target.of(user), policy.Action.TEMPORARY_ACCESS_PASS
    )
    if refused:
        raise TemporaryAccessPassRefused(refused)
    if problem := lifetime_problem(lifetime_minutes):
        raise TemporaryAccessPassRefused(problem)
    now = timezone.now()
    if starts_at is not None and starts_at < now - START_LEEWAY:
        raise TemporaryAccessPassRefused(
            _("The start time is in the past. Leave it empty to start now.")
        )
    if starts_at is not None and starts_at <= now:
        starts_at = None  # "now", typed
    if not user.account_enabled:
        raise TemporaryAccessPassRefused(
            _("This user is blocked from signing in: a Temporary Access Pass wouldn't work.")
        )
    directory = directory or get_directory()
    try:
        # Outside the transaction: no row stays locked while Graph answers.
        from_directory = directory.temporary_access_pass_issue(
            object_id=str(user.object_id),
            lifetime_minutes=lifetime_minutes,
            one_time=one_time,
            starts_at=starts_at,
        )
    except DirectoryRefused as refusal:
        raise TemporaryAccessPassRefused(refusal.message) from refusal
    if from_directory is not None:
        value, digest, directory_id = from_directory.value, "", from_directory.directory_id
        starts_at = from_directory.starts_at
        lifetime_minutes, one_time = from_directory.lifetime_minutes, from_directory.one_time
    else:
        value = temporary_access_pass_generate()
        digest, directory_id = temporary_access_pass_digest(value), ""
        starts_at = starts_at or now
    with transaction.atomic():
        # Lock the user's row: two agents issuing at once end with one pass, the later one.
        DirectoryUser.objects.select_for_update().filter(pk=user.pk).first()
        replaced = TemporaryAccessPass.objects.filter(user=user).delete()[0] > 0
        issued = TemporaryAccessPass.objects.create(
            user=user,
            digest=digest,
            directory_id=directory_id,
            starts_at=starts_at,
            expires_at=starts_at + timedelta(minutes=lifetime_minutes),
            one_time=one_time,
            created_by=context.actor if isinstance(context.actor, DirectoryUser) else None,
            created_at=now,
        )
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.temporary_access_pass_created",
                after=issued.expires_at.isoformat(),
                detail={
                    "starts_at": starts_at.isoformat(),
                    "expires_at": issued.expires_at.isoformat(),
                    "lifetime_minutes": lifetime_minutes,
                    "one_time": one_time,
                    "replaced": replaced,
                    "directory": directory.name,
                },
            ),
        )
    logger.info("temporary access pass issued for user %s", user.pk)
    return issued, value


def temporary_access_pass_delete(
    *, user: DirectoryUser, context: ChangeContext, directory: Directory | None = None
) -> bool:
    """Remove the user's pass (issued by mistake, or no longer needed), in the directory of
    record too."""
    refused = policy.may_change(
        policy.Actor.of(context), policy.Target.of(user), policy.Action.TEMPORARY_ACCESS_PASS
    )
    if refused:
        raise TemporaryAccessPassRefused(refused)
    held = TemporaryAccessPass.objects.filter(user=user).first()
    if held is None:
        return False
    try:
        (directory or get_directory()).temporary_access_pass_delete(
            object_id=str(user.object_id), directory_id=held.directory_id
        )
    except DirectoryRefused as refusal:
        raise TemporaryAccessPassRefused(refusal.message) from refusal
    with transaction.atomic():
        deleted = TemporaryAccessPass.objects.filter(pk=held.pk).delete()[0] > 0
        if deleted:
            audit_record(context, AuditEntry.about(user, "mfa.temporary_access_pass_deleted"))
    return deleted


@dataclass(frozen=True)
class PassCheck:
    user: DirectoryUser | None
    error: str = ""
    # Why it failed, as the sign-in log words it.
    reason: SignInReason = SignInReason.NONE


def _incorrect() -> PassCheck:
    return PassCheck(
        None,
        _("Your user name or Temporary Access Pass is incorrect."),
        SignInReason.WRONG_CODE,
    )


def temporary_access_pass_sign_in(
    *, user_principal_name: str, value: str, address: str | None
) -> PassCheck:
    """Sign-in with a pass instead of the password and second factor (local mode): the
    attempt is reserved on the same kind of counters as a password guess before it is
    checked, so parallel guesses never get more checks than the limits allow. A one-time
    pass is spent by a conditional update: of two sign-ins racing, one wins."""
    if graph_mode():
        return PassCheck(
            None,
            _(
                "Sign in with Microsoft Entra ID: in graph mode a Temporary Access Pass is "
                "entered at Microsoft's sign-in page, not here."
            ),
        )
    user = DirectoryUser.objects.by_upn(user_principal_name).first()
    counters = guess_counters(
        # The password's own counters: switching between the password and a pass gives a
        # guesser no more tries (Entra's lockout counts failed sign-ins, whatever was typed).
        scope="signin",
        user_principal_name=user_principal_name,
        address=address,
        limits=SIGN_IN_LIMITS,
        familiar=address_is_familiar(user, address),
    )
    if blocked := throttle.attempt_reserve(counters):
        check = PassCheck(None, password_lockout_message(blocked), SignInReason.LOCKED)
    else:
        check = _pass_verify(user, value, address)
        if check.user is None:
            throttle.attempt_failed(counters)
        else:
            throttle.attempt_succeeded(counters)
            familiar_address_note(user=check.user, address=address)
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked.TEMPORARY_ACCESS_PASS,
        result=SignInResult.FAILURE if check.user is None else SignInResult.SUCCESS,
        reason=check.reason,
        user=user,
        typed_name=user_principal_name,
        address=address,
    )
    return check


def _pass_verify(user: DirectoryUser | None, value: str, address: str | None) -> PassCheck:
    digest = temporary_access_pass_digest(value)
    held = TemporaryAccessPass.objects.filter(user=user).first() if user is not None else None
    if user is None or held is None or not hmac.compare_digest(held.digest, digest):
        return _incorrect()
    now = timezone.now()
    if not user.account_enabled:
        return PassCheck(
            None,
            _(
                "Your account has been locked. Contact your support person to unlock it, "
                "then try again."
            ),
            SignInReason.ACCOUNT_DISABLED,
        )
    if held.one_time and held.used_at is not None:
        return PassCheck(
            None,
            _(
                "This Temporary Access Pass has already been used: it works only once. Ask "
                "your support person for a new one."
            ),
            SignInReason.EXPIRED,
        )
    if now < held.starts_at:
        return PassCheck(
            None,
            _("This Temporary Access Pass isn't valid yet. You can use it from %(start)s.")
            % {"start": _moment(held.starts_at)},
            SignInReason.NOT_ALLOWED,
        )
    if now >= held.expires_at:
        return PassCheck(
            None,
            _("This Temporary Access Pass has expired. Ask your support person for a new one."),
            SignInReason.EXPIRED,
        )
    spent = TemporaryAccessPass.objects.filter(pk=held.pk, digest=digest)
    if held.one_time:
        spent = spent.filter(used_at__isnull=True)
    # The use and its audit entry commit together: a sign-in that fails midway has not
    # spent a one-time pass.
    with transaction.atomic():
        if not spent.update(used_at=now):
            # Used (or replaced) by a sign-in racing this one.
            return PassCheck(
                None,
                _(
                    "This Temporary Access Pass has already been used: it works only once. "
                    "Ask your support person for a new one."
                ),
                SignInReason.EXPIRED,
            )
        audit_record(
            ChangeContext(actor=user, source=AuditSource.SELF_SERVICE, ip_address=address),
            AuditEntry.about(
                user, "mfa.temporary_access_pass_used", detail={"one_time": held.one_time}
            ),
        )
    logger.info("temporary access pass accepted for user %s", user.pk)
    return PassCheck(user)


def _moment(value: datetime) -> str:
    """A moment as plain text in the reader's format and the portal's time zone."""
    local = timezone.localtime(value)
    return f"{date_format(local, 'SHORT_DATETIME_FORMAT')} {date_format(local, 'T')}"
