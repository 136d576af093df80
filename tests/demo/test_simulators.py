"""The phone and authenticator simulators (DESIGN §5.6)."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.test import Client, override_settings

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.mfa.services.oath_tokens import oath_token_activate, oath_tokens_upload
from tests.factories import make_user
from tests.selfservice.helpers import (
    add_app,
    code_now,
    is_signed_in,
    last_call,
    password_step,
    service_set,
)

pytestmark = pytest.mark.django_db


def test_the_phone_simulator_shows_texts_per_number_and_says_it_is_a_simulator(
    client: Client,
) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    password_step(client, "adele@contoso.test")
    client.get("/signin/verify/")
    listing = client.get("/demo/phone/").content.decode()
    assert "Simulator — local demo only" in listing and "+1 425-555-0123" in listing
    inbox = Client().get("/demo/phone/?number=%2B14255550123").content.decode()
    assert "Use verification code" in inbox


def test_answering_a_call_with_pound_signs_the_user_in(client: Client) -> None:
    service_set(method_text=False)
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    password_step(client, "adele@contoso.test")
    client.get("/signin/verify/")
    call = last_call("+14255550123")
    page = client.get("/demo/phone/?number=%2B14255550123").content.decode()
    assert "Answer and press #" in page
    client.post(f"/demo/phone/calls/{call.pk}/answer/", {"keys": "#"})
    response = client.post("/signin/verify/", {"action": "check"})
    assert response["Location"] == "/" and is_signed_in(client)


def test_reporting_fraud_on_a_call_blocks_sign_in_when_the_admin_chose_so(client: Client) -> None:
    service_set(method_text=False, fraud_report_blocks_user=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    password_step(client, "adele@contoso.test")
    client.get("/signin/verify/")
    call = last_call("+14255550123")
    Client().post(f"/demo/phone/calls/{call.pk}/answer/", {"keys": "0#"})
    assert UserMfa.objects.get(user=user).blocked_for_fraud_at is not None
    assert AuditEvent.objects.filter(action="mfa.fraud_reported", target=user).exists()
    response = client.post("/signin/verify/", {"action": "check"})
    assert response["Location"] == "/signin/" and not is_signed_in(client)


def test_the_authenticator_approves_with_number_matching_and_shows_codes(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _method, secret = add_app(user, mode="notification")
    password_step(client, "adele@contoso.test")
    page = client.get("/signin/verify/").content.decode()
    challenge = user.challenges.get(status="pending")
    assert challenge.match_number in page
    app = client.get("/demo/authenticator/").content.decode()
    assert "Approve sign in request?" in app
    assert code_now(secret) in app or code_now(secret, -1) in app
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    response = client.post("/signin/verify/", {"action": "check"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/" and is_signed_in(client)


def test_deny_then_report_fraud_from_the_authenticator(client: Client) -> None:
    service_set(fraud_report_blocks_user=False)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    add_app(user, mode="notification")
    password_step(client, "adele@contoso.test")
    client.get("/signin/verify/")
    challenge = user.challenges.get(status="pending")
    client.post(f"/demo/authenticator/requests/{challenge.pk}/", {"action": "deny"})
    assert "Report fraud" in client.get("/demo/authenticator/").content.decode()
    client.post(f"/demo/authenticator/requests/{challenge.pk}/", {"action": "fraud"})
    assert AuditEvent.objects.get(action="mfa.fraud_reported").after == "no action taken"
    page = client.post("/signin/verify/", {"action": "check"}, follow=True).content.decode()
    assert "reported as fraud" in page and not is_signed_in(client)


def test_the_authenticator_belongs_to_whoever_signs_in_with_this_browser(client: Client) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    add_app(adele, mode="notification")
    assert (
        "Sign in (or start signing in) in this browser first"
        in Client().get("/demo/authenticator/").content.decode()
    )
    # Adele is signing in elsewhere; Megan's browser can neither see nor approve the request.
    elsewhere = Client()
    password_step(elsewhere, "adele@contoso.test")
    elsewhere.get("/signin/verify/")
    challenge = adele.challenges.get(status="pending")
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED)
    add_app(megan)
    client.force_login(megan)
    assert "Approve sign in request?" not in client.get("/demo/authenticator/").content.decode()
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    challenge.refresh_from_db()
    assert challenge.status == "pending"


@override_settings(MFAPORTAL_SIMULATORS=False)
def test_the_simulators_are_absent_when_switched_off(client: Client) -> None:
    for url in ("/demo/phone/", "/demo/authenticator/"):
        assert client.get(url).status_code == 404


def test_the_authenticator_shows_a_60_second_hardware_tokens_own_code(client: Client) -> None:
    """Issue 16.3: in the demo, the simulator stands in for the key fob too: an assigned
    token's code (to activate it) and an activated one's, each in its own time interval."""
    key = "TXYZAE6PJ4UZF3NNKIW3HQNFUF7WFTFB"
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    oath_tokens_upload(
        data=(
            "upn,serial number,secret key,time interval,manufacturer,model\n"
            f"adele@contoso.test,SN-60,{key},60,Contoso,Token 60\n"
        ).encode(),
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    client.force_login(adele)
    token_code = pyotp.TOTP(key, interval=60)
    waiting = client.get("/demo/authenticator/").content.decode()
    assert "Contoso Token 60 (SN-60)" in waiting
    assert token_code.now() in waiting or token_code.at(time.time() - 60) in waiting
    token = adele.hardware_oath_tokens.get()
    assert oath_token_activate(
        token_id=token.pk,
        user=adele,
        code=token_code.now(),
        context=ChangeContext(actor=adele, source=AuditSource.SELF_SERVICE),
    ).ok
    active = client.get("/demo/authenticator/").content.decode()
    assert token_code.now() in active or token_code.at(time.time() - 60) in active
