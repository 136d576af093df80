"""Password sign-in and what the second step of a sign-in is (DESIGN §3): local mode."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import check_password
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mfaportal.core.modes import graph_mode
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import throttle
from mfaportal.mfa.models import MethodType, MfaState, ServiceSettings, VerificationMethod
from mfaportal.mfa.phones import phone_mask
from mfaportal.mfa.remembered import remembered_device_valid
from mfaportal.mfa.selectors import user_mfa
from mfaportal.mfa.trusted_ips import ip_is_trusted

# A password check against a user that does not exist costs the same as one that does,
# so timing doesn't tell an attacker which user names are real.
_DUMMY_HASH = "pbkdf2_sha256$1000000$mfaportal$HdvvGu9ePGSWCVp7bGO6JqxKnBZkHbD7k7iwClX3a+4="


@dataclass(frozen=True)
class PasswordCheck:
    user: DirectoryUser | None
    error: str = ""


def password_check(*, user_principal_name: str, password: str) -> PasswordCheck:
    if graph_mode():
        # Entra ID checks passwords in graph mode; the portal keeps none (entra/signin.py).
        return PasswordCheck(
            None, _("Sign in with Microsoft Entra ID: this portal keeps no passwords.")
        )
    user = DirectoryUser.objects.by_upn(user_principal_name).first()
    if user is None or not user.has_usable_password():
        check_password(password, _DUMMY_HASH)
        return PasswordCheck(None, _("Your account or password is incorrect."))
    if not user.check_password(password):
        return PasswordCheck(None, _("Your account or password is incorrect."))
    if not user.account_enabled:
        return PasswordCheck(
            None,
            _(
                "Your account has been locked. Contact your support person to unlock it, then try again."
            ),
        )
    return PasswordCheck(user)


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
    channel: str  # text | call | app_notification | app_code

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


def signin_options(user: DirectoryUser, service: ServiceSettings) -> list[SignInOption]:
    """Every way this user can verify now, the admin's verification options applied."""
    options: list[SignInOption] = []
    kinds = VerificationMethod.Kind
    for method in VerificationMethod.objects.filter(user=user):
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
                    )
                )
    order = list(MethodType.values)
    options.sort(key=lambda option: order.index(option.method_type))
    return options


def default_option(user: DirectoryUser, options: list[SignInOption]) -> SignInOption | None:
    default = user_mfa(user).default_method
    return next((o for o in options if o.method_type == default), options[0] if options else None)


# Guessing passwords in the browser is limited per user name and per address, whether or
# not the user exists, so the answer never tells which user names are real.
PASSWORD_PER_USER = throttle.Limit(
    count=10, window=timedelta(minutes=15), block=timedelta(minutes=5)
)
PASSWORD_PER_ADDRESS = throttle.Limit(
    count=50, window=timedelta(minutes=15), block=timedelta(minutes=15)
)


def password_throttle_keys(user_principal_name: str, address: str | None) -> tuple[str, str]:
    return (
        f"signin:user:{user_principal_name.strip().lower()[:255]}",
        f"signin:address:{address or 'unknown'}",
    )


def password_failure_record(keys: tuple[str, str]) -> None:
    user_key, address_key = keys
    throttle.bucket_hit(user_key, PASSWORD_PER_USER)
    throttle.bucket_hit(address_key, PASSWORD_PER_ADDRESS)


def password_lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "You've tried to sign in too many times with an incorrect user name or password. "
        "Try again in %(minutes)d minute.",
        "You've tried to sign in too many times with an incorrect user name or password. "
        "Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
