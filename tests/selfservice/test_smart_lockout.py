"""Failed passwords lock out the guesser, not the tenant (issue 14, finding 1).

Failures are counted per (account, address) and per address; the per-account count is only a
much higher ceiling, and it does not shut out an address the user has signed in from before
(Microsoft's smart lockout keeps separate counters for familiar and unfamiliar locations).
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.mfa.models import MfaState, ThrottleBucket, UserMfa
from mfaportal.mfa.services.app_passwords import app_password_create
from mfaportal.mfa.signin import PASSWORD_CEILING, PASSWORD_PER_ACCOUNT_AND_ADDRESS
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import service_set

pytestmark = pytest.mark.django_db

HOME = "203.0.113.5"
PROXY = "127.0.0.1"


def sign_in(username: str, password: str, address: str) -> Client:
    """A fresh browser signing in through the proxy from ``address``."""
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=address)
    client.post(reverse("signin"), {"username": username, "password": password})
    return client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def attack(username: str, failures: int, first_address: int = 0) -> None:
    """``failures`` wrong passwords for ``username``, each address trying as often as it may."""
    per_address = PASSWORD_PER_ACCOUNT_AND_ADDRESS.count
    for number in range(failures):
        address = f"198.51.{100 + first_address + number // per_address}.9"
        sign_in(username, "wrong", address)


@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_failures_for_other_accounts_and_for_this_one_elsewhere_do_not_lock_the_user_out() -> None:
    make_user("adele@contoso.test")
    for number in range(50):
        sign_in(f"ghost{number}@contoso.test", "wrong", f"192.0.2.{number + 1}")
    for _attempt in range(3 * PASSWORD_PER_ACCOUNT_AND_ADDRESS.count):
        sign_in("adele@contoso.test", "wrong", "198.51.100.66")
    assert signed_in(sign_in("adele@contoso.test", PASSWORD, HOME))


@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_the_address_that_failed_is_the_one_locked_for_this_account() -> None:
    make_user("adele@contoso.test")
    for _attempt in range(PASSWORD_PER_ACCOUNT_AND_ADDRESS.count):
        sign_in("adele@contoso.test", "wrong", "198.51.100.66")
    assert not signed_in(sign_in("adele@contoso.test", PASSWORD, "198.51.100.66"))
    assert signed_in(sign_in("adele@contoso.test", PASSWORD, HOME))


@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_an_account_attacked_from_many_addresses_still_signs_in_from_a_familiar_one() -> None:
    make_user("adele@contoso.test")
    assert signed_in(sign_in("adele@contoso.test", PASSWORD, HOME))  # HOME becomes familiar
    attack("adele@contoso.test", PASSWORD_CEILING.count)
    assert signed_in(sign_in("adele@contoso.test", PASSWORD, HOME))
    # The ceiling holds for every address the user never signed in from.
    client = sign_in("adele@contoso.test", PASSWORD, "192.0.2.200")
    assert not signed_in(client)


# --- /legacy/auth ------------------------------------------------------------------------


def legacy(username: str, secret: str, address: str) -> int:
    token = base64.b64encode(f"{username}:{secret}".encode()).decode()
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=address)
    return client.get("/legacy/auth", HTTP_AUTHORIZATION=f"Basic {token}").status_code


@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_a_valid_app_password_works_while_other_addresses_fail() -> None:
    service_set(app_passwords_allowed=True)
    adele = make_user("adele@contoso.test", state=MfaState.ENABLED, registered=True)
    _record, app_password = app_password_create(
        user=adele, name="Outlook", context=ChangeContext(actor=adele, source=AuditSource.PAGE)
    )
    UserMfa.objects.filter(user=adele).update(state=MfaState.ENFORCED)
    make_user("megan@contoso.test")
    for number in range(50):
        legacy(f"ghost{number}@contoso.test", "wrong", f"192.0.2.{number + 1}")
    for _attempt in range(20):
        legacy("adele@contoso.test", "wrong", "198.51.100.66")
        legacy("megan@contoso.test", "wrong", "198.51.100.66")
    assert legacy("adele@contoso.test", app_password, HOME) == 200
    assert legacy("megan@contoso.test", PASSWORD, HOME) == 200
    assert legacy("adele@contoso.test", app_password, "198.51.100.66") == 429


@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_when_the_lock_runs_out_one_more_try_is_allowed_and_a_failure_locks_again() -> None:
    make_user("adele@contoso.test")
    for _attempt in range(PASSWORD_PER_ACCOUNT_AND_ADDRESS.count):
        sign_in("adele@contoso.test", "wrong", "198.51.100.66")
    ThrottleBucket.objects.update(blocked_until=timezone.now() - timedelta(seconds=1))
    sign_in("adele@contoso.test", "wrong", "198.51.100.66")
    assert not signed_in(sign_in("adele@contoso.test", PASSWORD, "198.51.100.66"))
    ThrottleBucket.objects.update(blocked_until=timezone.now() - timedelta(seconds=1))
    assert signed_in(sign_in("adele@contoso.test", PASSWORD, "198.51.100.66"))
