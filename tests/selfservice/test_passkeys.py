"""Passkeys on the person's own pages: added from Additional security verification, chosen
at enrolment, answered at the sign-in challenge (a software authenticator answers; the
browser tests use Chromium's virtual one)."""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import timedelta

import pytest
from django.test import Client

from mfaportal.core.models import AuditEvent
from mfaportal.mfa.models import (
    MethodType,
    MfaState,
    SignInAsked,
    SignInEvent,
    SignInReason,
    SignInResult,
    UserMfa,
    VerificationMethod,
)
from tests.factories import make_user
from tests.mfa.soft_authenticator import SoftAuthenticator, with_passkey
from tests.selfservice.helpers import (
    is_signed_in,
    password_step,
    service_set,
    session_proved,
    text,
)

pytestmark = pytest.mark.django_db

ORIGIN = "http://testserver"
SETUP = "/mfa/setup/"
VERIFY = "/signin/verify/"


def options_on(page: str) -> str:
    match = re.search(r'data-options="([^"]*)"', page)
    assert match is not None, "no passkey options on the page"
    return html.unescape(match.group(1))


def test_a_person_adds_a_security_key_names_it_and_sees_it_listed(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(user)
    session_proved(client)
    started = client.post("/mfa/setup/passkeys/")
    assert started.status_code == 302
    page = client.get(started["Location"]).content.decode()
    key = SoftAuthenticator()
    saved = client.post(
        started["Location"],
        {"credential": key.register(options_on(page), origin=ORIGIN), "name": "Desk key"},
    )
    assert saved.status_code == 302 and saved["Location"] == SETUP
    setup = text(client.get(SETUP))
    assert "Your security key or passkey has been registered." in setup
    assert "Desk key" in setup
    assert AuditEvent.objects.filter(action="mfa.method_registered", after="passkey").exists()


def test_adding_a_passkey_asks_for_the_password_again_when_it_was_not_proved_lately(
    client: Client,
) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(user)
    session_proved(client, ago=timedelta(hours=1))
    response = client.post("/mfa/setup/passkeys/")
    assert response["Location"] == "/mfa/reauthenticate/"


def test_an_answer_posted_twice_registers_the_key_once(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(user)
    session_proved(client)
    url = client.post("/mfa/setup/passkeys/")["Location"]
    answer = SoftAuthenticator().register(
        options_on(client.get(url).content.decode()), origin=ORIGIN
    )
    client.post(url, {"credential": answer})
    client.post(url, {"credential": answer})
    assert user.methods.filter(kind=VerificationMethod.Kind.PASSKEY).count() == 1


def test_the_challenge_page_offers_the_passkey_first_when_it_is_the_default(
    client: Client,
) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    page = client.get(VERIFY)
    assert "Sign in with your security key or passkey" in text(page)
    done = client.post(
        VERIFY,
        {
            "action": "passkey",
            "credential": key.sign_in(options_on(page.content.decode()), origin=ORIGIN),
        },
    )
    assert done.status_code == 302
    assert is_signed_in(client)


def test_an_answer_for_another_site_does_not_sign_in(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    options = options_on(client.get(VERIFY).content.decode())
    client.post(
        VERIFY,
        {"action": "passkey", "credential": key.sign_in(options, origin="https://phish.example")},
    )
    assert not is_signed_in(client)
    assert "it answered for another site" in text(client.get(VERIFY))


def test_a_deleted_passkey_does_not_sign_in(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    lost, kept = SoftAuthenticator(), SoftAuthenticator()
    gone = with_passkey(user, lost)
    with_passkey(user, kept)
    client.force_login(user)
    session_proved(client)
    client.post(f"/mfa/setup/methods/{gone.pk}/delete/")
    client.logout()
    password_step(client, "adele@contoso.test")
    options = options_on(client.get(VERIFY).content.decode())
    client.post(VERIFY, {"action": "passkey", "credential": lost.sign_in(options, origin=ORIGIN)})
    assert not is_signed_in(client)
    assert "isn't registered for your account" in text(client.get(VERIFY))


def test_a_sign_in_answer_replayed_is_refused(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    answer = key.sign_in(options_on(client.get(VERIFY).content.decode()), origin=ORIGIN)
    client.post(VERIFY, {"action": "passkey", "credential": answer})
    assert is_signed_in(client)
    thief = Client()
    password_step(thief, "adele@contoso.test")
    thief.get(VERIFY)
    thief.post(VERIFY, {"action": "passkey", "credential": answer})
    assert not is_signed_in(thief)


def test_a_new_user_registers_a_passkey_at_enrolment_and_is_signed_in(client: Client) -> None:
    user = make_user("new@contoso.test", state=MfaState.ENABLED)
    password_step(client, "new@contoso.test")
    chosen = client.post("/signin/register/", {"contact": "passkey", "action": "passkey"})
    assert chosen["Location"] == "/signin/register/passkey/"
    page = client.get("/signin/register/passkey/").content.decode()
    done = client.post(
        "/signin/register/passkey/",
        {"credential": SoftAuthenticator().register(options_on(page), origin=ORIGIN)},
    )
    assert done.status_code == 302
    assert is_signed_in(client)
    mfa = UserMfa.objects.get(user=user)
    assert mfa.state == MfaState.ENFORCED
    assert mfa.default_method == MethodType.PASSKEY


def test_after_a_passkey_at_enrolment_the_app_passwords_step_is_step_2(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    make_user("new@contoso.test", state=MfaState.ENABLED)
    password_step(client, "new@contoso.test")
    page = client.get("/signin/register/passkey/").content.decode()
    done = client.post(
        "/signin/register/passkey/",
        {"credential": SoftAuthenticator().register(options_on(page), origin=ORIGIN)},
    )
    assert done["Location"] == "/signin/register/app-passwords/"
    assert "Step 2: Keep using your existing applications" in text(client.get(done["Location"]))


def test_a_passkey_sign_in_leaves_no_challenge_or_signature_in_the_logs(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    options = options_on(client.get(VERIFY).content.decode())
    answer = key.sign_in(options, origin=ORIGIN)
    client.post(VERIFY, {"action": "passkey", "credential": answer})
    assert is_signed_in(client)
    logged = caplog.text
    assert json.loads(options)["challenge"] not in logged
    assert json.loads(answer)["response"]["signature"] not in logged


def test_a_refused_registration_says_why_and_offers_a_new_try(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(user)
    session_proved(client)
    url = client.post("/mfa/setup/passkeys/")["Location"]
    options = options_on(client.get(url).content.decode())
    again = client.post(
        url, {"credential": SoftAuthenticator().register(options, origin="https://phish.example")}
    )
    assert again["Location"] == url
    page = client.get(url)
    assert "it answered for another site" in text(page)
    assert options_on(page.content.decode()) != options  # a new challenge
    assert not user.methods.filter(kind=VerificationMethod.Kind.PASSKEY).exists()


def test_passkey_sign_ins_show_in_the_sign_in_log_with_why_one_failed(client: Client) -> None:
    from mfaportal.mfa.models import SignInAsked, SignInEvent, SignInReason, SignInResult

    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    answer = key.sign_in(options_on(client.get(VERIFY).content.decode()), origin=ORIGIN)
    client.post(VERIFY, {"action": "passkey", "credential": answer})
    thief = Client()
    password_step(thief, "adele@contoso.test")
    thief.get(VERIFY)
    thief.post(VERIFY, {"action": "passkey", "credential": answer})
    passkey_rows = list(
        SignInEvent.objects.filter(asked=SignInAsked.PASSKEY)
        .order_by("id")
        .values_list("result", "reason")
    )
    assert passkey_rows == [
        (SignInResult.SUCCESS, SignInReason.NONE),
        (SignInResult.FAILURE, SignInReason.NOT_ALLOWED),
    ]


def _refused_answers(client: Client, key: SoftAuthenticator, count: int) -> None:
    for _ in range(count):
        options = options_on(client.get(VERIFY).content.decode())
        client.post(
            VERIFY,
            {
                "action": "passkey",
                "credential": key.sign_in(options, origin="https://phish.example"),
            },
        )


def test_repeated_refused_passkey_answers_lock_the_passkey_for_a_while(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    method = with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    _refused_answers(client, key, 5)
    page = client.get(VERIFY)
    assert "You've entered too many incorrect codes. Try again in 1 minute" in text(page)
    # Even the right answer waits until the lock runs out.
    client.post(
        VERIFY,
        {
            "action": "passkey",
            "credential": key.sign_in(options_on(page.content.decode()), origin=ORIGIN),
        },
    )
    assert not is_signed_in(client)
    assert "too many incorrect codes" in text(client.get(VERIFY))
    method.refresh_from_db()
    assert method.locked_until is not None
    last = SignInEvent.objects.filter(asked=SignInAsked.PASSKEY).latest("id")
    assert (last.result, last.reason) == (SignInResult.FAILURE, SignInReason.LOCKED)


def test_a_passkey_sign_in_clears_the_refused_answers_before_it(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    key = SoftAuthenticator()
    method = with_passkey(user, key)
    password_step(client, "adele@contoso.test")
    _refused_answers(client, key, 3)
    method.refresh_from_db()
    assert method.failed_attempts == 3
    options = options_on(client.get(VERIFY).content.decode())
    client.post(VERIFY, {"action": "passkey", "credential": key.sign_in(options, origin=ORIGIN)})
    assert is_signed_in(client)
    method.refresh_from_db()
    assert (method.failed_attempts, method.locked_until) == (0, None)
