"""A person activates the hardware token assigned to them on Additional security
verification (issue 16.3), and then it is one of their sign-in methods."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.mfa.models import (
    HardwareOathToken,
    MfaState,
    ServiceSettings,
    SignInAsked,
    SignInEvent,
    SignInResult,
)
from mfaportal.mfa.services.oath_tokens import oath_token_activate
from mfaportal.mfa.signin import signin_options
from tests.admin_portal.test_hardware_tokens import assigned_token
from tests.factories import make_user
from tests.mfa.test_oath_tokens import SECRET
from tests.selfservice.helpers import is_signed_in, password_step, session_proved

VERIFY = "/signin/verify/"

pytestmark = pytest.mark.django_db


def test_a_person_activates_their_token_with_a_code_from_it(client: Client) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    token = assigned_token(adele)
    client.force_login(adele)
    page = client.get(reverse("selfservice:setup")).content.decode()
    assert "Activate your hardware token" in page
    assert "Code from Contoso Token 1000 (SN-1)" in page
    activate = reverse("selfservice:hardware_token_activate", args=[token.pk])
    wrong = client.post(activate, {"code": "123456"}, follow=True).content.decode()
    assert "That code isn" in wrong
    done = client.post(activate, {"code": pyotp.TOTP(SECRET).now()}, follow=True)
    page = done.content.decode()
    assert "Your hardware token is activated." in page
    assert "Activate your hardware token" not in page
    assert "Contoso Token 1000 (SN-1)" in page  # listed with the apps and tokens
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ACTIVATED


def test_nobody_activates_a_token_assigned_to_someone_else(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    token = assigned_token(adele)
    client.force_login(make_user("mallory@contoso.test"))
    response = client.post(
        reverse("selfservice:hardware_token_activate", args=[token.pk]),
        {"code": pyotp.TOTP(SECRET).now()},
        follow=True,
    )
    assert "no longer waiting to be activated" in response.content.decode()
    token.refresh_from_db()
    assert token.method is None


def test_deleting_my_token_from_my_methods_leaves_it_assigned_to_activate_again(
    client: Client,
) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    token = assigned_token(adele)
    client.force_login(adele)
    client.post(
        reverse("selfservice:hardware_token_activate", args=[token.pk]),
        {"code": pyotp.TOTP(SECRET).now()},
    )
    token.refresh_from_db()
    assert token.method_id is not None
    session_proved(client)
    client.post(reverse("selfservice:method_delete", args=[token.method_id]))
    token.refresh_from_db()
    assert token.state == HardwareOathToken.State.ASSIGNED
    assert (
        "Activate your hardware token" in client.get(reverse("selfservice:setup")).content.decode()
    )


def test_codes_from_a_hardware_token_at_sign_in_are_logged_as_hardware_token_codes(
    client: Client,
) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    token = assigned_token(adele)
    assert oath_token_activate(
        token_id=token.pk,
        user=adele,
        code=pyotp.TOTP(SECRET).now(),
        context=ChangeContext(None, AuditSource.SELF_SERVICE),
    ).ok
    password_step(client, "adele@contoso.test")
    client.get(VERIFY)
    # The token is the default: the page's first answer goes the general way ...
    client.post(VERIFY, {"action": "code", "code": _wrong(pyotp.TOTP(SECRET))})
    # ... and once the option is chosen, the quick way for the option on screen.
    option = signin_options(adele, ServiceSettings.load())[0].key
    client.post(reverse("signin_flow:verify_other"), {"option": option})
    client.post(VERIFY, {"action": "code", "code": pyotp.TOTP(SECRET).at(time.time() + 30)})
    assert is_signed_in(client)
    rows = list(
        SignInEvent.objects.exclude(asked=SignInAsked.PASSWORD)
        .order_by("id")
        .values_list("asked", "result")
    )
    assert rows == [
        (SignInAsked.HARDWARE_TOKEN, SignInResult.FAILURE),
        (SignInAsked.HARDWARE_TOKEN, SignInResult.SUCCESS),
    ]


def _wrong(totp: pyotp.TOTP) -> str:
    """A code none of the steps around now accepts."""
    near = {totp.at(time.time() + 30 * step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)
