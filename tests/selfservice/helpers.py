"""Helpers for the self-service tests: sign-in steps, registered apps, the phone outbox."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.services import session_proof_mark
from mfaportal.mfa import totp
from mfaportal.mfa.models import (
    MethodType,
    ServiceSettings,
    TelephonyMessage,
    UserMfa,
    VerificationMethod,
)
from tests.factories import PASSWORD


def service_set(**fields: Any) -> ServiceSettings:
    ServiceSettings.load()
    ServiceSettings.objects.filter(pk=1).update(**fields)
    return ServiceSettings.load()


def password_step(
    client: Client, upn: str, password: str = PASSWORD, next_url: str = "", **extra: Any
):
    return client.post(
        reverse("signin"), {"username": upn, "password": password, "next": next_url}, **extra
    )


def add_app(
    user: DirectoryUser, *, mode: str = "code", default: bool = True
) -> tuple[VerificationMethod, str]:
    """Register an authenticator app for the user; returns it and its key."""
    secret = totp.secret_generate()
    ciphertext, key_id = totp.secret_seal(secret, object_id=str(user.object_id))
    method = VerificationMethod.objects.create(
        user=user,
        kind=VerificationMethod.Kind.AUTHENTICATOR_APP,
        app_mode=mode,
        device_name="Test phone",
        secret_ciphertext=ciphertext,
        secret_key_id=key_id,
    )
    if default:
        UserMfa.objects.filter(user=user).update(
            default_method=MethodType.PHONE_APP_OTP
            if mode == "code"
            else MethodType.PHONE_APP_NOTIFICATION
        )
    return method, secret


def code_now(secret: str, offset_steps: int = 0) -> str:
    return totp.code_at(secret, step=totp.current_step() + offset_steps)


def last_text(number: str) -> str:
    message = TelephonyMessage.objects.filter(to_number=number, kind="text").order_by("-id").first()
    assert message is not None, f"no text message to {number}"
    return message.body


def last_code(number: str) -> str:
    match = re.search(r"\b(\d{6})\b", last_text(number))
    assert match is not None
    return match.group(1)


def last_call(number: str) -> TelephonyMessage:
    message = TelephonyMessage.objects.filter(to_number=number, kind="call").order_by("-id").first()
    assert message is not None, f"no call to {number}"
    return message


def session_proved(client: Client, *, ago: timedelta = timedelta(0)) -> None:
    """Mark the test client's session as having proved who uses it (as a whole sign-in or
    a reauthentication does), ``ago`` before now."""
    session = client.session
    session_proof_mark(session=session, at=timezone.now() - ago)
    session.save()


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def secret_from_page(html: str) -> str:
    match = re.search(r'id="secret-key">([A-Z2-7 ]+)<', html)
    assert match is not None, "no secret key on the page"
    return totp.secret_normalise(match.group(1))


def pyotp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def last_mail_code(address: str) -> str:
    """The code in the newest message to ``address`` (Django's test mail outbox)."""
    from django.core import mail

    for message in reversed(mail.outbox):
        if address.lower() in [to.lower() for to in message.to]:
            match = re.search(r"\b(\d{6})\b", str(message.body))
            assert match is not None, "no code in the mail"
            return match.group(1)
    raise AssertionError(f"no mail to {address}")


def mails_to(address: str) -> int:
    from django.core import mail

    return sum(address.lower() in [to.lower() for to in m.to] for m in mail.outbox)


def text(response: Any) -> str:
    """The page as a person reads it (entities such as &#x27; decoded)."""
    import html

    return html.unescape(response.content.decode())
