"""Production keeps no live codes in clear (issue 14, finding 6): the outbox telephony and
mail backends (and the console ones) are refused at start-up without MFAPORTAL_DEBUG unless
a lab allows them; what an outbox stores keeps no code unless a simulator reads it; old
outbox rows are pruned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import checks
from django.core.mail import send_mail
from django.test import override_settings
from django.utils import timezone

from mfaportal.mfa.mail_config import CONSOLE, OUTBOX, SMTP
from mfaportal.mfa.models import OutboxEmail, TelephonyMessage
from mfaportal.mfa.telephony import Delivery, OutboxBackend

pytestmark = pytest.mark.django_db

PRODUCTION = {"DEBUG": False, "MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION": False}
TEXT = "Use verification code 482913 for MFA Portal. It expires in 5 minutes."


def start_up_errors() -> list[str]:
    return sorted(
        message.id or ""
        for message in checks.run_checks(tags=["mfaportal"])
        if message.is_serious()
    )


@override_settings(**PRODUCTION, MFAPORTAL_TELEPHONY="outbox", EMAIL_BACKEND=OUTBOX)
def test_production_with_the_default_outboxes_refuses_to_start() -> None:
    assert start_up_errors() == ["mfa.E001", "mfa.E002"]
    messages = {m.id: m for m in checks.run_checks(tags=["mfaportal"])}
    assert "MFAPORTAL_TELEPHONY" in messages["mfa.E001"].msg
    assert "MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION" in str(messages["mfa.E001"].hint)
    assert "MFAPORTAL_EMAIL_URL" in str(messages["mfa.E002"].hint)


@override_settings(**PRODUCTION, MFAPORTAL_TELEPHONY="console", EMAIL_BACKEND=CONSOLE)
def test_production_refuses_the_console_backends_too() -> None:
    assert start_up_errors() == ["mfa.E001", "mfa.E002"]


@override_settings(**PRODUCTION, MFAPORTAL_TELEPHONY="http", EMAIL_BACKEND=SMTP)
def test_production_with_a_gateway_and_a_mail_server_starts() -> None:
    assert start_up_errors() == []


@override_settings(
    DEBUG=False,
    MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION=True,
    MFAPORTAL_TELEPHONY="outbox",
    EMAIL_BACKEND=OUTBOX,
)
def test_a_lab_may_allow_the_outboxes_in_production() -> None:
    assert start_up_errors() == []


@override_settings(DEBUG=True, MFAPORTAL_TELEPHONY="outbox", EMAIL_BACKEND=OUTBOX)
def test_development_uses_the_outboxes_freely() -> None:
    assert start_up_errors() == []


@override_settings(MFAPORTAL_SIMULATORS=False)
def test_without_the_phone_simulator_the_outbox_keeps_no_code() -> None:
    OutboxBackend().send(Delivery(kind="text", to_number="+14255550123", body=TEXT))
    body = TelephonyMessage.objects.get().body
    assert "482913" not in body
    assert body.startswith("Use verification code ")


@override_settings(MFAPORTAL_SIMULATORS=False, EMAIL_BACKEND=OUTBOX)
def test_without_the_mail_simulator_the_mail_outbox_keeps_no_code() -> None:
    send_mail("Your code", "Use this code:\n\n482913\n\nIt expires.", None, ["a@example.net"])
    assert "482913" not in OutboxEmail.objects.get().body


@override_settings(MFAPORTAL_SIMULATORS=True, EMAIL_BACKEND=OUTBOX)
def test_the_simulators_still_read_the_code() -> None:
    OutboxBackend().send(Delivery(kind="text", to_number="+14255550123", body=TEXT))
    send_mail("Your code", "482913", None, ["a@example.net"])
    assert "482913" in TelephonyMessage.objects.get().body
    assert "482913" in OutboxEmail.objects.get().body


@override_settings(EMAIL_BACKEND=OUTBOX)
def test_old_outbox_rows_are_pruned_when_new_ones_arrive() -> None:
    long_ago = timezone.now() - timedelta(days=2)
    TelephonyMessage.objects.create(
        to_number="+14255550123", kind="text", body="old", created_at=long_ago
    )
    OutboxEmail.objects.create(to_address="a@example.net", body="old", created_at=long_ago)
    recent = TelephonyMessage.objects.create(to_number="+14255550123", kind="text", body="new")
    OutboxBackend().send(Delivery(kind="text", to_number="+14255550123", body=TEXT))
    send_mail("Your code", "482913", None, ["a@example.net"])
    assert not TelephonyMessage.objects.filter(body="old").exists()
    assert not OutboxEmail.objects.filter(body="old").exists()
    assert TelephonyMessage.objects.filter(pk=recent.pk).exists()
    assert TelephonyMessage.objects.count() == 2 and OutboxEmail.objects.count() == 1
