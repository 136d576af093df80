"""Step-up is per session (issue 14, finding 5): the proof that lets a session change
methods without the password again is this session's own full sign-in (or its own
reauthentication), never a password typed in another browser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mfaportal.mfa.models import AppPassword, MfaState, VerificationMethod
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import is_signed_in, last_code, password_step, service_set

pytestmark = pytest.mark.django_db
UPN = "adele@contoso.test"
REAUTH = "/mfa/reauthenticate/"


@pytest.fixture
def adele():
    service_set(app_passwords_allowed=True)
    return make_user(UPN, state=MfaState.ENFORCED, registered=True)


def full_sign_in(client: Client) -> None:
    """Password, then the text code: the whole sign-in a person does."""
    assert password_step(client, UPN)["Location"] == reverse("signin_flow:verify")
    client.get(reverse("signin_flow:verify"))
    client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": last_code("+14255550123")}
    )
    assert is_signed_in(client)


def asks_for_the_password(client: Client) -> list[str]:
    """The stepped-up changes this session tried that were sent to reauthenticate."""
    tried = {
        "an app password": client.post("/mfa/app-passwords/", {"name": "Stolen"}),
        "an authenticator app": client.post("/mfa/setup/app/", {"mode": "code"}),
        "a phone change": client.post(
            "/mfa/setup/",
            {
                "preferred": "OneWaySMS",
                "auth-country": "US",
                "auth-phone": "425 555 0199",
                "office-country": "US",
                "office-phone": "",
                "office-extension": "",
                "alt-country": "US",
                "alt-phone": "",
            },
        ),
    }
    return [what for what, response in tried.items() if response.get("Location") == REAUTH]


def test_a_sign_in_in_another_browser_does_not_refresh_a_stale_session(adele) -> None:
    stolen = Client()
    start = timezone.now()
    with freeze_time(start):
        full_sign_in(stolen)
    with freeze_time(start + timedelta(hours=1)):
        elsewhere = Client()
        password_step(elsewhere, UPN)  # the password alone, in another browser
        assert asks_for_the_password(stolen) == [
            "an app password",
            "an authenticator app",
            "a phone change",
        ]
        full_sign_in(elsewhere)  # and even a whole sign-in there
        assert asks_for_the_password(stolen) == [
            "an app password",
            "an authenticator app",
            "a phone change",
        ]
    assert not AppPassword.objects.exists()
    assert not VerificationMethod.objects.filter(phone_number="+14255550199").exists()


def test_a_fresh_full_sign_in_may_act_without_the_password_again(adele) -> None:
    browser = Client()
    full_sign_in(browser)
    assert asks_for_the_password(browser) == []
    assert AppPassword.objects.filter(user=adele, name="Stolen").exists()


def test_the_password_step_of_a_new_sign_in_is_no_proof_for_the_session(adele) -> None:
    browser = Client()
    start = timezone.now()
    with freeze_time(start):
        full_sign_in(browser)
    with freeze_time(start + timedelta(hours=1)):
        # The same browser starts signing in again and stops before the second factor.
        password_step(browser, UPN)
        assert "an app password" in asks_for_the_password(browser)


def test_a_reauthentication_counts_only_for_its_own_session(adele) -> None:
    first, second = Client(), Client()
    start = timezone.now()
    with freeze_time(start):
        full_sign_in(first)
        full_sign_in(second)
    with freeze_time(start + timedelta(hours=1)):
        assert first.post("/mfa/app-passwords/", {"name": "Laptop"})["Location"] == REAUTH
        first.post(REAUTH, {"password": PASSWORD})
        assert AppPassword.objects.filter(name="Laptop").exists()
        assert "an app password" in asks_for_the_password(second)
        assert asks_for_the_password(first) == []
