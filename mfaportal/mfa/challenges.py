"""Proving a method: text and email codes, calls, app notifications and TOTP codes.

Every check is a conditional write, so two requests racing with one code cannot both win:
a text code is consumed by ``UPDATE ... WHERE status = 'pending'``, a TOTP step by
``UPDATE ... WHERE last_used_step < step`` under ``select_for_update``. A failure is counted
before that row lock is released, so parallel wrong answers never pass the lockout. Codes exist in
clear only in the message that carries them; the database keeps a keyed hash.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import throttle, totp
from mfaportal.mfa.crypto import keyed_hash
from mfaportal.mfa.mail import MailError, code_email_send
from mfaportal.mfa.models import (
    HardwareOathToken,
    ServiceSettings,
    UserMfa,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.telephony import Delivery, TelephonyBackend, TelephonyError, get_telephony

logger = logging.getLogger(__name__)

Channel = VerificationChallenge.Channel
Status = VerificationChallenge.Status

CODE_TTL = timedelta(minutes=5)
EMAIL_CODE_TTL = timedelta(minutes=10)  # mail is slower than a text
CODE_CHANNELS = (Channel.TEXT, Channel.EMAIL)
ANSWER_TTL = timedelta(minutes=3)  # calls and notifications
MAX_CODE_ATTEMPTS = 5
SEND_LIMIT = throttle.Limit(count=6, window=timedelta(minutes=15), block=timedelta(minutes=15))


@dataclass(frozen=True)
class Check:
    """The result of a check, with the sentence to show the person."""

    status: str  # ok | wrong | used | expired | locked | pending | denied | fraud | throttled
    message: str = ""
    step: int | None = None  # the TOTP step a code matched
    # The kind of method a TOTP code was checked against (an app or a hardware token), so the
    # sign-in log tells them apart without reading the method again.
    method_kind: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class ChallengeRefused(Exception):
    """A challenge could not start: locked method, too many requests, gateway down."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _code_digest(challenge_id: object, code: str) -> str:
    return keyed_hash(code, purpose=f"one-time-code:{challenge_id}")


def code_generate() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def challenge_start(
    *,
    user: DirectoryUser,
    channel: str,
    purpose: str,
    method: VerificationMethod | None = None,
    phone_number: str = "",
    extension: str = "",
    email_address: str = "",
    telephony: TelephonyBackend | None = None,
) -> VerificationChallenge:
    """Send a code by text or email, place a call, or push a notification; older pending
    challenges of the same purpose stop working."""
    if method is not None:
        if locked := throttle.method_locked_for(method):
            raise ChallengeRefused(throttle.lockout_message(locked))
        phone_number = phone_number or method.phone_number
        extension = extension or method.extension
    sends = channel in (Channel.TEXT, Channel.CALL, Channel.EMAIL)
    if sends and throttle.bucket_hit(f"send:user:{user.pk}", SEND_LIMIT):
        raise ChallengeRefused(
            _("We've sent too many codes to you recently. Wait a few minutes and try again.")
        )
    if channel == Channel.EMAIL:
        email_address = email_address.strip()
        # Per address too: many accounts must not be able to flood one mailbox.
        address_key = keyed_hash(email_address.lower(), purpose="send-email-address")[:40]
        if throttle.bucket_hit(f"send:email:{address_key}", SEND_LIMIT):
            raise ChallengeRefused(
                _("We've sent too many codes to that address recently. Wait a few minutes.")
            )
    now = timezone.now()
    code = code_generate() if channel in CODE_CHANNELS else ""
    with transaction.atomic():
        VerificationChallenge.objects.filter(
            user=user, purpose=purpose, status=Status.PENDING, expires_at__gt=now
        ).update(expires_at=now)
        challenge = VerificationChallenge(
            created_at=now,
            user=user,
            method=method,
            purpose=purpose,
            channel=channel,
            phone_number=phone_number,
            extension=extension,
            email_address=email_address if channel == Channel.EMAIL else "",
            expires_at=now + _ttl(channel),
        )
        if code:
            challenge.code_digest = _code_digest(challenge.id, code)
        if channel == Channel.APP_NOTIFICATION:
            challenge.match_number = str(10 + secrets.randbelow(90))
        challenge.save()
    if channel in (Channel.TEXT, Channel.CALL):
        delivery = Delivery(
            kind="text" if channel == Channel.TEXT else "call",
            to_number=phone_number,
            extension=extension,
            body=_text_body(code) if code else _call_script(),
            challenge_id=str(challenge.id),
        )
        try:
            (telephony or get_telephony()).send(delivery)
        except TelephonyError as error:
            challenge.delete()
            logger.warning("challenge for user %s not delivered: %s", user.pk, error)
            raise ChallengeRefused(
                _("We couldn't reach your phone just now. Try again, or sign in another way.")
            ) from error
    if channel == Channel.EMAIL:
        try:
            code_email_send(address=email_address, code=code, purpose=purpose)
        except MailError as error:
            challenge.delete()
            raise ChallengeRefused(
                _("We couldn't send the email just now. Try again in a few minutes.")
            ) from error
    logger.info(
        "challenge %s started: %s for user %s (%s)", challenge.id, channel, user.pk, purpose
    )
    return challenge


def _ttl(channel: str) -> timedelta:
    if channel == Channel.TEXT:
        return CODE_TTL
    if channel == Channel.EMAIL:
        return EMAIL_CODE_TTL
    return ANSWER_TTL


def _text_body(code: str) -> str:
    return _(
        "Use verification code %(code)s for MFA Portal. It expires in 5 minutes. "
        "If you didn't ask for it, someone may know your password."
    ) % {"code": code}


def _call_script() -> str:
    return _(
        "This is the MFA Portal verification call. If you are signing in, press the pound "
        "key (#) to finish. If you did not ask for this call, press 0 and then # to report fraud."
    )


def _refusal_for_state(challenge: VerificationChallenge) -> Check | None:
    if challenge.status == Status.CONSUMED:
        return Check("used", _("That code has already been used. Request a new one."))
    if challenge.status == Status.DENIED:
        return Check("denied", _("The request was denied."))
    if challenge.status == Status.FRAUD:
        return Check("fraud", _("The request was denied and reported as fraud."))
    if challenge.expires_at <= timezone.now():
        return Check("expired", _("That request has expired. Request a new code."))
    return None


def text_code_check(*, challenge_id: str, user: DirectoryUser, code: str) -> Check:
    """Check a code sent by text or email. Single use, 5 minutes (10 for email), 5 tries, and
    the method's lockout."""
    code = code.strip().replace(" ", "")
    with transaction.atomic():
        challenge = (
            VerificationChallenge.objects.select_for_update(of=("self",))
            .filter(pk=challenge_id, user=user, channel__in=CODE_CHANNELS)
            .select_related("method")
            .first()
        )
        if challenge is None:
            return Check("expired", _("That request has expired. Request a new code."))
        if refusal := _refusal_for_state(challenge):
            return refusal
        if challenge.method is not None and (
            locked := throttle.method_locked_for(challenge.method)
        ):
            return Check("locked", throttle.lockout_message(locked))
        if challenge.attempts >= MAX_CODE_ATTEMPTS:
            return Check("expired", _("Too many incorrect codes. Request a new code."))
        if hmac.compare_digest(challenge.code_digest, _code_digest(challenge.id, code)):
            won = VerificationChallenge.objects.filter(
                pk=challenge.pk, status=Status.PENDING
            ).update(status=Status.CONSUMED, decided_at=timezone.now())
            if not won:
                return Check("used", _("That code has already been used. Request a new one."))
            if challenge.method_id:
                throttle.method_failures_clear(challenge.method_id)
            return Check("ok")
        VerificationChallenge.objects.filter(pk=challenge.pk).update(
            attempts=challenge.attempts + 1
        )
        # Counted before the row is let go: the next request sees this failure.
        return _failure(challenge.method_id, _("That code isn't right. Check it and try again."))


def _failure(method_id: int | None, message: str) -> Check:
    if method_id is not None and (locked := throttle.method_failure_record(method_id)):
        return Check("locked", throttle.lockout_message(locked))
    return Check("wrong", message)


def answer_take(*, challenge_id: str, user: DirectoryUser) -> Check:
    """The sign-in page asks whether a call or a notification was answered; an approval is
    used once."""
    challenge = VerificationChallenge.objects.filter(pk=challenge_id, user=user).first()
    if challenge is None:
        return Check("expired", _("That request has expired. Try again."))
    if challenge.status == Status.PENDING:
        if challenge.expires_at <= timezone.now():
            return Check("expired", _("We didn't hear from you. Try again."))
        return Check("pending")
    if challenge.status == Status.APPROVED:
        won = VerificationChallenge.objects.filter(pk=challenge.pk, status=Status.APPROVED).update(
            status=Status.CONSUMED
        )
        if won:
            if challenge.method_id:
                throttle.method_failures_clear(challenge.method_id)
            return Check("ok")
    refusal = _refusal_for_state(challenge)
    return refusal or Check("expired", _("That request has expired. Try again."))


def notification_respond(
    *, challenge_id: str, user: DirectoryUser, approve: bool, number: str = ""
) -> Check:
    """The authenticator app approves (typing the number shown at sign-in) or denies."""
    now = timezone.now()
    with transaction.atomic():
        challenge = (
            VerificationChallenge.objects.select_for_update()
            .filter(pk=challenge_id, user=user, channel=Channel.APP_NOTIFICATION)
            .first()
        )
        if challenge is None or challenge.status != Status.PENDING or challenge.expires_at <= now:
            return Check("expired", _("This request is no longer waiting for an answer."))
        if not approve:
            challenge.status, challenge.decided_at = Status.DENIED, now
            challenge.save(update_fields=["status", "decided_at"])
            return Check("denied", _("You denied the sign-in request."))
        if hmac.compare_digest(number.strip(), challenge.match_number):
            challenge.status, challenge.decided_at = Status.APPROVED, now
            challenge.save(update_fields=["status", "decided_at"])
            return Check("ok", _("Approved. Go back to the sign-in page."))
        challenge.status, challenge.decided_at = Status.DENIED, now
        challenge.save(update_fields=["status", "decided_at"])
        return _failure(
            challenge.method_id,
            _("The number you entered didn't match, so the request was denied."),
        )


def call_answer(*, challenge_id: str, keys: str) -> Check:
    """The phone (simulator or gateway) reports the keys pressed on a verification call:
    # approves, 0# reports fraud, anything else (or hanging up) denies."""
    now = timezone.now()
    keys = keys.strip()
    with transaction.atomic():
        challenge = (
            VerificationChallenge.objects.select_for_update()
            .filter(pk=challenge_id, channel=Channel.CALL)
            .first()
        )
        if challenge is None or challenge.status != Status.PENDING or challenge.expires_at <= now:
            return Check("expired", _("This call has ended."))
        if keys == "#":
            challenge.status = Status.APPROVED
        elif keys == "0#":
            challenge.status = Status.DENIED
        else:
            challenge.status = Status.DENIED
        challenge.decided_at = now
        challenge.save(update_fields=["status", "decided_at"])
    if keys == "0#":
        return Check("fraud")
    if challenge.status == Status.APPROVED:
        return Check("ok", _("Thank you. You can hang up."))
    return Check("denied", _("The call ended without approval."))


def fraud_report(*, challenge_id: str, user: DirectoryUser, context: ChangeContext) -> Check:
    """ "Report fraud" after denying a request: audited, and when the admin chose so the
    user is blocked from signing in until an admin lifts it."""
    service = ServiceSettings.load()
    if not service.fraud_report_allowed:
        return Check("denied", _("Your organization doesn't take fraud reports here."))
    now = timezone.now()
    with transaction.atomic():
        challenge = (
            VerificationChallenge.objects.select_for_update()
            .filter(pk=challenge_id, user=user)
            .first()
        )
        if challenge is None or challenge.status not in (Status.PENDING, Status.DENIED):
            return Check("expired", _("This request can no longer be reported."))
        challenge.status, challenge.decided_at = Status.FRAUD, now
        challenge.save(update_fields=["status", "decided_at"])
        blocked = service.fraud_report_blocks_user
        if blocked:
            UserMfa.objects.get_or_create(user=user)
            UserMfa.objects.filter(user=user).update(blocked_for_fraud_at=now, updated_at=now)
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.fraud_reported",
                after="blocked" if blocked else "no action taken",
                detail={
                    "channel": challenge.channel,
                    "purpose": challenge.purpose,
                    "result": (
                        "Fraud reported - user is blocked for MFA"
                        if blocked
                        else "Fraud reported - no action taken"
                    ),
                },
            ),
        )
    logger.warning("fraud reported by user %s (blocked=%s)", user.pk, blocked)
    if blocked:
        return Check(
            "fraud",
            _(
                "Thanks for reporting it. Your account is blocked from signing in until your "
                "support person unblocks it."
            ),
        )
    return Check("fraud", _("Thanks for reporting it. Your administrator has been told."))


def totp_check(*, method_id: int, user: DirectoryUser, code: str) -> Check:
    """Check a code from an authenticator app or token: ±1 step, each step accepted once.
    The outcome names the method's kind (none when the method is gone)."""
    with transaction.atomic():
        method = (
            VerificationMethod.objects.select_for_update()
            .filter(pk=method_id, user=user, secret_ciphertext__isnull=False)
            .first()
        )
        if method is None:
            return Check("expired", _("That authenticator app is no longer registered."))
        return replace(_totp_checked(method, user, code), method_kind=method.kind)


def _totp_checked(method: VerificationMethod, user: DirectoryUser, code: str) -> Check:
    """``totp_check`` once the method row is locked (``SELECT ... FOR UPDATE``)."""
    if locked := throttle.method_locked_for(method):
        return Check("locked", throttle.lockout_message(locked))
    secret = totp.secret_open(
        method.secret_ciphertext, key_id=method.secret_key_id, object_id=str(user.object_id)
    )
    step = totp.matching_step(secret, code, period=_period_of(method))
    if step is not None:
        if method.last_used_step is not None and step <= method.last_used_step:
            return Check("used", _("That code has already been used. Wait for the next code."))
        won = (
            VerificationMethod.objects.filter(pk=method.pk)
            .filter(Q(last_used_step__isnull=True) | Q(last_used_step__lt=step))
            .update(last_used_step=step, failed_attempts=0, locked_until=None)
        )
        if won:
            return Check("ok", step=step)
        return Check("used", _("That code has already been used. Wait for the next code."))
    # Counted while the method row is still locked, so parallel wrong codes see each
    # other's failures and the lock comes after exactly the free ones.
    return _failure(method.pk, _("That code isn't right. Check it and try again."))


def _period_of(method: VerificationMethod) -> int:
    """A hardware token counts in its own time interval (30 or 60 s); an app in 30 s."""
    if method.kind == VerificationMethod.Kind.HARDWARE_TOKEN:
        token = HardwareOathToken.objects.filter(method=method).only("time_interval").first()
        if token is not None:
            return token.time_interval
    return totp.PERIOD
