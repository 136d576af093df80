"""The sign-in log (issue 16.5): every browser and legacy attempt is recorded with who, from
where, what was asked, the result and why it failed; old rows are pruned."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.mfa.models import (
    MfaState,
    SignInAsked,
    SignInClient,
    SignInEvent,
    SignInReason,
    SignInResult,
    UserMfa,
)
from mfaportal.mfa.services import signin_log
from mfaportal.mfa.services.app_passwords import app_password_create
from mfaportal.mfa.services.signin_log import signin_log_prune, signin_record
from mfaportal.mfa.tasks import signin_log_prune_run
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import add_app, code_now, last_code, password_step, service_set

pytestmark = pytest.mark.django_db


def events() -> list[tuple[str, str, str, str, str]]:
    """(user, client, asked, result, reason) of every event, oldest first."""
    return [
        (e.user_label, e.client, e.asked, e.result, e.reason)
        for e in SignInEvent.objects.order_by("at", "id")
    ]


def legacy(client: Client, user: str, secret: str):
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return client.get("/legacy/auth", HTTP_AUTHORIZATION=f"Basic {token}")


def test_a_wrong_password_is_logged_against_the_user_with_the_address() -> None:
    user = make_user("adele@contoso.test")
    client = Client(REMOTE_ADDR="203.0.113.7")
    password_step(client, "Adele@contoso.test", "not-it")
    event = SignInEvent.objects.get()
    assert event.user == user and event.user_label == "adele@contoso.test"
    assert event.address == "203.0.113.7"
    assert (event.client, event.asked, event.result, event.reason) == (
        SignInClient.BROWSER,
        SignInAsked.PASSWORD,
        SignInResult.FAILURE,
        SignInReason.WRONG_PASSWORD,
    )


def test_an_unknown_name_is_logged_as_typed_and_the_password_never(client: Client) -> None:
    password_step(client, "ghost@contoso.test", "Secret-typed-123")
    assert events() == [("ghost@contoso.test", "browser", "password", "failure", "unknown_user")]
    stored = [str(v) for v in SignInEvent.objects.values_list().get()]
    assert not any("Secret-typed-123" in value for value in stored)


def test_a_blocked_account_and_a_locked_name_say_why(client: Client) -> None:
    make_user("blocked@contoso.test", account_enabled=False)
    make_user("adele@contoso.test")
    password_step(client, "blocked@contoso.test")
    for _try in range(11):
        password_step(client, "adele@contoso.test", "wrong")
    reasons = [row[4] for row in events()]
    assert reasons[0] == "account_disabled"
    assert reasons[-1] == "locked"


def test_a_password_only_sign_in_is_a_success(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.DISABLED)
    password_step(client, "adele@contoso.test")
    assert events() == [("adele@contoso.test", "browser", "password", "success", "")]


def test_the_second_factor_is_logged_after_the_interrupted_password_step(
    client: Client,
) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _method, secret = add_app(user, mode="code")
    password_step(client, "adele@contoso.test")
    client.get(reverse("signin_flow:verify"))
    client.post(reverse("signin_flow:verify"), {"action": "code", "code": "000000"})
    client.post(reverse("signin_flow:verify"), {"action": "code", "code": code_now(secret)})
    assert events() == [
        ("adele@contoso.test", "browser", "password", "interrupted", "second_factor_required"),
        ("adele@contoso.test", "browser", "app_code", "failure", "wrong_code"),
        ("adele@contoso.test", "browser", "app_code", "success", ""),
    ]


def test_a_user_who_must_register_is_interrupted_for_registration(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    assert events()[-1][3:] == ("interrupted", "registration_required")


def test_a_fraud_blocked_user_is_logged_as_such(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    UserMfa.objects.filter(user=user).update(blocked_for_fraud_at=timezone.now())
    password_step(client, "adele@contoso.test")
    assert events()[-1][3:] == ("failure", "fraud_block")


def test_legacy_attempts_are_logged_with_what_was_tried(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    _row, value = app_password_create(
        user=user, name="Outlook", context=ChangeContext(actor=user, source=AuditSource.PAGE)
    )
    assert legacy(client, "adele@contoso.test", value).status_code == 200
    assert legacy(client, "adele@contoso.test", PASSWORD).status_code == 401
    assert legacy(client, "adele@contoso.test", "wrong").status_code == 401
    assert legacy(client, "nobody@contoso.test", "wrong").status_code == 401
    assert events() == [
        ("adele@contoso.test", "legacy", "app_password", "success", ""),
        ("adele@contoso.test", "legacy", "password", "failure", "not_allowed"),
        ("adele@contoso.test", "legacy", "password", "failure", "wrong_password"),
        ("nobody@contoso.test", "legacy", "password", "failure", "unknown_user"),
    ]
    assert not SignInEvent.objects.filter(user_label__contains=value).exists()


def test_a_legacy_sign_in_with_an_app_password_costs_one_insert_more(
    client: Client, django_assert_num_queries
) -> None:
    service_set(app_passwords_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    _row, value = app_password_create(
        user=user, name="Outlook", context=ChangeContext(actor=user, source=AuditSource.PAGE)
    )
    legacy(client, "adele@contoso.test", value)  # the first use writes last-used; prune due
    # The one look-up, the one INSERT; on PostgreSQL the look-up carries the INSERT (one
    # statement, issue 15).
    from django.db import connection

    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert legacy(client, "adele@contoso.test", value).status_code == 200
    assert SignInEvent.objects.filter(result="success").count() == 2


def test_events_older_than_the_retention_are_pruned_by_the_task() -> None:
    user = make_user("adele@contoso.test")
    for days in (0, 29, 31, 400):
        signin_record(
            client=SignInClient.BROWSER,
            asked=SignInAsked.PASSWORD,
            result=SignInResult.SUCCESS,
            user=user,
        )
        SignInEvent.objects.filter(pk=SignInEvent.objects.latest("id").pk).update(
            at=timezone.now() - timedelta(days=days)
        )
    result = signin_log_prune_run.enqueue()
    assert result.return_value == {"deleted": 2}
    ages = sorted(
        (timezone.now() - at).days for at in SignInEvent.objects.values_list("at", flat=True)
    )
    assert ages == [0, 29]


@override_settings(MFAPORTAL_SIGNIN_LOG_DAYS=7)
def test_the_retention_is_the_setting() -> None:
    user = make_user("adele@contoso.test")
    signin_record(
        client=SignInClient.LEGACY,
        asked=SignInAsked.APP_PASSWORD,
        result=SignInResult.SUCCESS,
        user=user,
    )
    SignInEvent.objects.update(at=timezone.now() - timedelta(days=8))
    assert signin_log_prune() == 1


def test_writes_enqueue_the_prune_once_a_day(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    monkeypatch.setattr(signin_log, "_prune_due", [0.0])
    user = make_user("adele@contoso.test")
    SignInEvent.objects.create(
        user=user,
        user_label="old",
        client="browser",
        asked="password",
        result="success",
        at=timezone.now() - timedelta(days=90),
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for _try in range(3):
            signin_record(
                client=SignInClient.BROWSER,
                asked=SignInAsked.PASSWORD,
                result=SignInResult.SUCCESS,
                user=user,
            )
    assert len(callbacks) == 1
    assert not SignInEvent.objects.filter(user_label="old").exists()


def test_the_password_asked_again_before_a_change_is_logged(client: Client) -> None:
    """Step-up (DESIGN §5.3) asks for the password again: a guess there is a sign-in attempt."""
    service_set(app_passwords_allowed=True)
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    start = timezone.now()
    with freeze_time(start):
        password_step(client, "adele@contoso.test")
        client.get(reverse("signin_flow:verify"))
        code = last_code("+14255550123")
        client.post(reverse("signin_flow:verify"), {"action": "code", "code": code})
    with freeze_time(start + timedelta(hours=1)):
        assert client.post("/mfa/app-passwords/", {"name": "Laptop"})["Location"] == (
            "/mfa/reauthenticate/"
        )
        client.post("/mfa/reauthenticate/", {"password": "not-it"})
        client.post("/mfa/reauthenticate/", {"password": PASSWORD})
    assert events()[2:] == [
        ("adele@contoso.test", "browser", "password", "failure", "wrong_password"),
        ("adele@contoso.test", "browser", "password", "success", ""),
    ]
