"""Password sign-in and what the second step of a sign-in is (DESIGN §3): local mode."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mfaportal.core.modes import graph_mode
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import throttle
from mfaportal.mfa.crypto import keyed_hash
from mfaportal.mfa.models import (
    FamiliarAddress,
    MethodType,
    MfaState,
    ServiceSettings,
    SignInReason,
    VerificationMethod,
)
from mfaportal.mfa.phones import phone_mask
from mfaportal.mfa.remembered import remembered_device_valid
from mfaportal.mfa.selectors import user_mfa
from mfaportal.mfa.trusted_ips import ip_is_trusted


@dataclass(frozen=True)
class PasswordCheck:
    user: DirectoryUser | None
    error: str = ""
    # For the sign-in log: why it failed, and whose account the name matched.
    reason: SignInReason = SignInReason.NONE
    account: DirectoryUser | None = None


@cache
def _dummy_hash(hasher: str) -> str:
    """A hash by ``hasher`` (the default one), of nothing anyone knows: checking a password
    against it costs what checking a real one does."""
    return make_password(secrets.token_urlsafe(32), hasher=get_hasher("default"))


def password_hash_check(user: DirectoryUser | None, password: str) -> bool:
    """Exactly one password-hash verification, whoever the user is (unknown, without a
    usable password, disabled or not), so the time taken doesn't tell which user names
    are real or which state they are in."""
    if user is None or not user.has_usable_password():
        check_password(password, _dummy_hash(settings.PASSWORD_HASHERS[0]))
        return False
    return user.check_password(password)


def password_check(*, user_principal_name: str, password: str) -> PasswordCheck:
    if graph_mode():
        # Entra ID checks passwords in graph mode; the portal keeps none (entra/signin.py).
        return PasswordCheck(
            None,
            _("Sign in with Microsoft Entra ID: this portal keeps no passwords."),
            SignInReason.NOT_ALLOWED,
        )
    user = DirectoryUser.objects.by_upn(user_principal_name).first()
    return _password_verify(user, password)


def _password_verify(user: DirectoryUser | None, password: str) -> PasswordCheck:
    if not password_hash_check(user, password) or user is None:
        return PasswordCheck(
            None,
            _("Your account or password is incorrect."),
            SignInReason.UNKNOWN_USER if user is None else SignInReason.WRONG_PASSWORD,
            user,
        )
    if not user.account_enabled:
        return PasswordCheck(
            None,
            _(
                "Your account has been locked. Contact your support person to unlock it, then try again."
            ),
            SignInReason.ACCOUNT_DISABLED,
            user,
        )
    return PasswordCheck(user, account=user)


# --- what the second step of sign-in is (DESIGN §3) -----------------------------------------


class Next:
    SIGNED_IN = "signed_in"
    REGISTER = "register"
    CHALLENGE = "challenge"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class SignInOption:
    """One way to prove it's you: a MethodType on one registered method."""

    method_type: str
    method_id: int
    label: str
    channel: str  # text | call | app_notification | app_code | passkey
    # A code from a hardware OATH token rather than an app (the page words it so).
    hardware_token: bool = False

    @property
    def key(self) -> str:
        return f"{self.method_type}:{self.method_id}"


def signin_next_step(
    *, user: DirectoryUser, ip_address: str | None, device_token: str, service: ServiceSettings
) -> str:
    mfa = user_mfa(user)
    if mfa.state == MfaState.DISABLED:
        return Next.SIGNED_IN
    if mfa.blocked_for_fraud_at is not None:
        return Next.BLOCKED
    registered = VerificationMethod.objects.filter(user=user).exists()
    if mfa.must_register or not registered:
        return Next.REGISTER
    if ip_is_trusted(ip_address, service.trusted_ip_ranges):
        return Next.SIGNED_IN
    if device_token and remembered_device_valid(user=user, token=device_token, service=service):
        return Next.SIGNED_IN
    return Next.CHALLENGE


def signin_options(
    user: DirectoryUser,
    service: ServiceSettings,
    methods: Iterable[VerificationMethod] | None = None,
) -> list[SignInOption]:
    """Every way this user can verify now, the admin's verification options applied
    (``methods``: the user's methods, when the caller has read them)."""
    options: list[SignInOption] = []
    kinds = VerificationMethod.Kind
    if methods is None:
        methods = VerificationMethod.objects.filter(user=user)
    for method in methods:
        if method.kind == kinds.PASSKEY:
            # One option for all the user's passkeys: the browser offers whichever is at hand.
            if not any(o.method_type == MethodType.PASSKEY for o in options):
                options.append(
                    SignInOption(
                        MethodType.PASSKEY,
                        method.pk,
                        _("Use a passkey or security key"),
                        "passkey",
                    )
                )
            continue
        masked = phone_mask(method.phone_number) if method.phone_number else ""
        if method.kind == kinds.AUTHENTICATION_PHONE:
            if service.method_text:
                options.append(
                    SignInOption(
                        MethodType.ONE_WAY_SMS,
                        method.pk,
                        _("Text %(number)s") % {"number": masked},
                        "text",
                    )
                )
            if service.method_call:
                options.append(
                    SignInOption(
                        MethodType.TWO_WAY_VOICE_MOBILE,
                        method.pk,
                        _("Call %(number)s") % {"number": masked},
                        "call",
                    )
                )
        elif method.kind == kinds.ALTERNATE_PHONE and service.method_call:
            options.append(
                SignInOption(
                    MethodType.TWO_WAY_VOICE_ALTERNATE_MOBILE,
                    method.pk,
                    _("Call %(number)s (alternate phone)") % {"number": masked},
                    "call",
                )
            )
        elif method.kind == kinds.OFFICE_PHONE and service.method_call:
            options.append(
                SignInOption(
                    MethodType.TWO_WAY_VOICE_OFFICE,
                    method.pk,
                    _("Call %(number)s (office phone)") % {"number": masked},
                    "call",
                )
            )
        elif (
            method.kind in (kinds.AUTHENTICATOR_APP, kinds.HARDWARE_TOKEN)
            and method.secret_ciphertext
        ):
            name = method.device_name or method.get_kind_display()
            if (
                method.kind == kinds.AUTHENTICATOR_APP
                and method.app_mode == VerificationMethod.AppMode.NOTIFICATION
                and service.method_app_notification
            ):
                options.append(
                    SignInOption(
                        MethodType.PHONE_APP_NOTIFICATION,
                        method.pk,
                        _("Approve a request on %(name)s") % {"name": name},
                        "app_notification",
                    )
                )
            if service.method_app_code:
                options.append(
                    SignInOption(
                        MethodType.PHONE_APP_OTP,
                        method.pk,
                        _("Use a verification code from %(name)s") % {"name": name},
                        "app_code",
                        hardware_token=method.kind == kinds.HARDWARE_TOKEN,
                    )
                )
    order = list(MethodType.values)
    options.sort(key=lambda option: order.index(option.method_type))
    return options


def default_option(user: DirectoryUser, options: list[SignInOption]) -> SignInOption | None:
    default = user_mfa(user).default_method
    return next((o for o in options if o.method_type == default), options[0] if options else None)


# Guessing passwords is limited per (account, address) and per address, whether or not the
# user exists, so the answer never tells which user names are real. Per account alone only
# a much higher ceiling applies, and not to the addresses the user has signed in from
# before: failures elsewhere must not lock the user out (Microsoft's smart lockout keeps
# separate counters for familiar and unfamiliar locations).
PASSWORD_PER_ACCOUNT_AND_ADDRESS = throttle.Limit(
    count=10, window=timedelta(minutes=15), block=timedelta(minutes=5)
)
PASSWORD_PER_ADDRESS = throttle.Limit(
    count=50, window=timedelta(minutes=15), block=timedelta(minutes=15)
)
PASSWORD_CEILING = throttle.Limit(
    count=100, window=timedelta(minutes=15), block=timedelta(minutes=15)
)
FAMILIAR_FOR = timedelta(days=90)


@dataclass(frozen=True)
class GuessLimits:
    per_account_and_address: throttle.Limit
    per_address: throttle.Limit
    ceiling: throttle.Limit


SIGN_IN_LIMITS = GuessLimits(
    PASSWORD_PER_ACCOUNT_AND_ADDRESS, PASSWORD_PER_ADDRESS, PASSWORD_CEILING
)


def guess_counters(
    *,
    scope: str,
    user_principal_name: str,
    address: str | None,
    limits: GuessLimits,
    familiar: bool,
) -> list[throttle.Counter]:
    """The counters one password guess counts against. Keys hold keyed hashes: bounded in
    length, and no typed user name kept in clear."""
    upn = user_principal_name.strip().lower()
    where = address or "unknown"
    pair = keyed_hash(f"{upn}\n{where}", purpose="throttle-account-address")[:40]
    account = keyed_hash(upn, purpose="throttle-account")[:40]
    return [
        throttle.Counter(f"{scope}:pair:{pair}", limits.per_account_and_address),
        throttle.Counter(f"{scope}:address:{where}", limits.per_address),
        throttle.Counter(f"{scope}:account:{account}", limits.ceiling, enforced=not familiar),
    ]


def address_is_familiar(user: DirectoryUser | None, address: str | None) -> bool:
    if user is None or not address:
        return False
    return FamiliarAddress.objects.filter(
        user=user, address=address, last_success_at__gte=timezone.now() - FAMILIAR_FOR
    ).exists()


def familiar_address_note(*, user: DirectoryUser, address: str | None) -> None:
    """Remember that the user signed in from here (at most one write a day per address)."""
    if not address:
        return
    now = timezone.now()
    updated = FamiliarAddress.objects.filter(
        user=user, address=address, last_success_at__lt=now - timedelta(days=1)
    ).update(last_success_at=now)
    if not updated:
        FamiliarAddress.objects.get_or_create(
            user=user, address=address, defaults={"last_success_at": now}
        )


def password_sign_in(
    *, user_principal_name: str, password: str, address: str | None
) -> PasswordCheck:
    """The password step of browser sign-in, limited: the attempt is reserved before the
    hash is checked, so parallel guesses never get more checks than the limits allow."""
    if graph_mode():
        return password_check(user_principal_name=user_principal_name, password=password)
    user = DirectoryUser.objects.by_upn(user_principal_name).first()
    counters = guess_counters(
        scope="signin",
        user_principal_name=user_principal_name,
        address=address,
        limits=SIGN_IN_LIMITS,
        familiar=address_is_familiar(user, address),
    )
    if blocked := throttle.attempt_reserve(counters):
        return PasswordCheck(None, password_lockout_message(blocked), SignInReason.LOCKED, user)
    check = _password_verify(user, password)
    if check.user is None:
        throttle.attempt_failed(counters)
    else:
        throttle.attempt_succeeded(counters)
        familiar_address_note(user=check.user, address=address)
    return check


# Asking for the password again before a change of security info (step-up): five wrong
# answers per account lock it for a while, reserved before the hash is checked.
REAUTHENTICATION_LIMIT = throttle.Limit(
    count=5, window=timedelta(minutes=15), block=timedelta(minutes=15)
)


def password_reauthenticate(*, user: DirectoryUser, password: str) -> tuple[bool, int]:
    """The signed-in user's password asked again: (proved, seconds locked). The attempt is
    reserved before the hash is checked, so parallel guesses never get more checks."""
    counters = [throttle.Counter(f"reauth:user:{user.pk}", REAUTHENTICATION_LIMIT)]
    if blocked := throttle.attempt_reserve(counters):
        return False, blocked
    if user.check_password(password):
        throttle.attempt_succeeded(counters)
        return True, 0
    throttle.attempt_failed(counters)
    return False, 0


def password_lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "You've tried to sign in too many times with an incorrect user name or password. "
        "Try again in %(minutes)d minute.",
        "You've tried to sign in too many times with an incorrect user name or password. "
        "Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
