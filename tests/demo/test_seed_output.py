"""What ``make demo`` prints (it runs seed_demo): the accounts, then where the phone,
authenticator and mail simulators are, so a newcomer can follow a sign-in end to end."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db
SIMULATORS = (
    "http://127.0.0.1:8000/demo/phone/",
    "http://127.0.0.1:8000/demo/authenticator/",
    "http://127.0.0.1:8000/demo/mail/",
)


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--users", "0", stdout=out)
    return out.getvalue()


def test_the_demo_prints_the_simulators_after_the_accounts(settings: Any) -> None:
    settings.MFAPORTAL_SIMULATORS = True
    output = seed()
    accounts = output.index("adele@contoso.test")
    for url in SIMULATORS:
        assert url in output
        assert output.index(url) > accounts
    assert "texts and calls" in output


def test_without_simulators_no_simulator_is_printed(settings: Any) -> None:
    settings.MFAPORTAL_SIMULATORS = False
    output = seed()
    assert "adele@contoso.test" in output
    assert "/demo/" not in output
