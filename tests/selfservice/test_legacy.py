"""/legacy/auth (DESIGN §5.5): who may use which secret, rate limits, last-used tracking."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.db.models.sql.compiler import SQLCompiler
from django.test import Client
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.mfa.models import AppPassword, MfaState, ThrottleBucket, UserMfa
from mfaportal.mfa.services.app_passwords import app_password_create
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import service_set

pytestmark = pytest.mark.django_db


def basic(user: str, secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def legacy(client: Client, user: str, secret: str, **extra):
    return client.get("/legacy/auth", **{**basic(user, secret), **extra})


def user_with_app_password(state: MfaState, *, registered: bool) -> str:
    service_set(app_passwords_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENABLED, registered=registered)
    _record, value = app_password_create(
        user=user,
        name="Outlook",
        context=ChangeContext(actor=user, source=AuditSource.SELF_SERVICE),
    )
    UserMfa.objects.filter(user=user).update(state=state)
    return value


# state, registered, secret kind → expected status
MATRIX = [
    (MfaState.DISABLED, False, "password", 200),
    (MfaState.DISABLED, False, "app password", 401),
    (MfaState.DISABLED, False, "wrong", 401),
    (MfaState.ENABLED, False, "password", 200),
    (MfaState.ENABLED, False, "app password", 200),
    (MfaState.ENABLED, False, "wrong", 401),
    (MfaState.ENABLED, True, "password", 401),
    (MfaState.ENABLED, True, "app password", 200),
    (MfaState.ENFORCED, True, "password", 401),
    (MfaState.ENFORCED, True, "app password", 200),
    (MfaState.ENFORCED, True, "wrong", 401),
    (MfaState.ENFORCED, False, "password", 401),
]


@pytest.mark.parametrize(("state", "registered", "kind", "expected"), MATRIX)
def test_legacy_endpoint_follows_the_state_rules(
    client: Client, state: MfaState, registered: bool, kind: str, expected: int
) -> None:
    value = user_with_app_password(state, registered=registered)
    secret = {"password": PASSWORD, "app password": value, "wrong": "nope-nope"}[kind]
    response = legacy(client, "adele@contoso.test", secret)
    assert response.status_code == expected
    if expected == 200:
        assert response.json() == {
            "userPrincipalName": "adele@contoso.test",
            "displayName": response.json()["displayName"],
        }
    else:
        assert response["WWW-Authenticate"].startswith('Basic realm="MFA Portal')


def test_enforced_user_cannot_use_the_normal_password_on_a_legacy_client(client: Client) -> None:
    user_with_app_password(MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", PASSWORD).status_code == 401


def test_app_passwords_are_checked_case_and_space_insensitively(client: Client) -> None:
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    spaced = " ".join(value[i : i + 4] for i in range(0, 16, 4)).upper()
    assert legacy(client, "ADELE@contoso.test", spaced).status_code == 200


def test_another_users_app_password_does_not_work(client: Client) -> None:
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    assert legacy(client, "megan@contoso.test", value).status_code == 401


def test_app_passwords_stop_working_when_the_admin_disallows_them(client: Client) -> None:
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    service_set(app_passwords_allowed=False)
    assert legacy(client, "adele@contoso.test", value).status_code == 401
    service_set(app_passwords_allowed=True)
    assert legacy(client, "adele@contoso.test", value).status_code == 200


def test_blocked_accounts_are_refused(client: Client) -> None:
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    type(UserMfa.objects.get().user).objects.update(account_enabled=False)
    assert legacy(client, "adele@contoso.test", value).status_code == 401


@pytest.mark.parametrize(
    "header",
    ["", "Bearer abc", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode()],
)
def test_missing_or_malformed_credentials_get_a_401_challenge(client: Client, header: str) -> None:
    response = (
        client.get("/legacy/auth", HTTP_AUTHORIZATION=header)
        if header
        else client.get("/legacy/auth")
    )
    assert response.status_code == 401 and "WWW-Authenticate" in response


def test_only_get_and_head_are_accepted(client: Client) -> None:
    assert client.post("/legacy/auth").status_code == 405


def test_last_used_is_written_at_most_once_a_minute(
    client: Client, django_assert_max_num_queries
) -> None:
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    legacy(client, "adele@contoso.test", value)
    first = AppPassword.objects.get().last_used_at
    assert first is not None
    legacy(client, "adele@contoso.test", value)
    assert AppPassword.objects.get().last_used_at == first
    AppPassword.objects.update(last_used_at=timezone.now() - timedelta(seconds=61))
    legacy(client, "adele@contoso.test", value)
    later = AppPassword.objects.get().last_used_at
    assert later is not None and later > first
    with django_assert_max_num_queries(2):  # the look-up, and the sign-in log's one INSERT
        assert legacy(client, "adele@contoso.test", value).status_code == 200


def test_a_valid_app_password_costs_no_query_building_once_the_first_was_answered(
    client: Client, monkeypatch
) -> None:
    """Issue 15: the look-up is the same statement for every answer; the ORM built and
    compiled it on each request (about 1 ms, more than the query). Now it is compiled once."""
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", value).status_code == 200
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args, **kwargs):
        compiled.append(type(self).__name__)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    response = legacy(client, "adele@contoso.test", value)
    assert response.status_code == 200
    assert response.json()["userPrincipalName"] == "adele@contoso.test"
    assert compiled == []  # the sign-in log's INSERT has a compiler of its own


def test_a_valid_app_password_builds_no_statement_at_all_and_is_still_logged(
    client: Client, monkeypatch
) -> None:
    """Issue 15: the sign-in log's INSERT is the same statement for every answer too; the
    ORM built a model object and compiled the INSERT each time. The row is still written,
    whole, once per answer."""
    from django.db.models.sql.compiler import SQLInsertCompiler

    from mfaportal.mfa.models import SignInEvent

    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", value).status_code == 200
    compiled: list[str] = []
    for compiler in (SQLCompiler, SQLInsertCompiler):
        as_sql = compiler.as_sql

        def counting(self, *args, _as_sql=as_sql, **kwargs):
            compiled.append(type(self).__name__)
            return _as_sql(self, *args, **kwargs)

        monkeypatch.setattr(compiler, "as_sql", counting)
    response = legacy(client, "adele@contoso.test", value, REMOTE_ADDR="2001:db8::7")
    assert response.status_code == 200
    assert compiled == []
    monkeypatch.undo()
    latest = SignInEvent.objects.order_by("-id").first()
    assert latest is not None and SignInEvent.objects.count() == 2
    assert (latest.user_label, latest.address, latest.client, latest.asked, latest.result) == (
        "adele@contoso.test",
        "2001:db8::7",
        "legacy",
        "app_password",
        "success",
    )
    assert latest.user is not None and latest.user.user_principal_name == "adele@contoso.test"
    assert timezone.now() - latest.at < timedelta(minutes=1)


def test_a_valid_app_password_is_answered_and_logged_in_one_round_trip_on_postgresql(
    client: Client, django_assert_num_queries
) -> None:
    """Issue 15: on PostgreSQL the look-up itself records the success (a data-modifying
    WITH): one round trip; on SQLite, in-process, the INSERT follows the look-up. Either way
    exactly one row per answer, and a name typed in another case is recorded too."""
    from django.db import connection

    from mfaportal.mfa.models import SignInEvent

    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", value).status_code == 200
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert legacy(client, "adele@contoso.test", value).status_code == 200
    assert legacy(client, "Adele@Contoso.TEST", value).status_code == 200
    rows = list(SignInEvent.objects.order_by("id").values_list("user_label", "result", "asked"))
    assert rows == [("adele@contoso.test", "success", "app_password")] * 3
    assert SignInEvent.objects.filter(user__user_principal_name="adele@contoso.test").count() == 3


def test_an_app_password_refused_by_the_fast_path_is_logged_once_as_refused(
    client: Client,
) -> None:
    """The look-up records only what will be answered 200: a fraud block, a policy that
    no longer allows app passwords, a blocked account each leave one refusal row."""
    from mfaportal.directory.models import DirectoryUser
    from mfaportal.mfa.models import SignInEvent

    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    UserMfa.objects.filter(user__user_principal_name="adele@contoso.test").update(
        blocked_for_fraud_at=timezone.now()
    )
    assert legacy(client, "adele@contoso.test", value).status_code == 401
    UserMfa.objects.update(blocked_for_fraud_at=None)
    service_set(app_passwords_allowed=False)
    assert legacy(client, "adele@contoso.test", value).status_code == 401
    service_set(app_passwords_allowed=True)
    DirectoryUser.objects.filter(user_principal_name="adele@contoso.test").update(
        account_enabled=False
    )
    assert legacy(client, "adele@contoso.test", value).status_code == 401
    assert (
        list(SignInEvent.objects.order_by("id").values_list("result", flat=True)) == ["failure"] * 3
    )


def test_a_user_hammering_wrong_passwords_gets_429_with_retry_after(client: Client) -> None:
    value = user_with_app_password(MfaState.ENFORCED, registered=True)
    for _ in range(10):
        assert legacy(client, "adele@contoso.test", "wrong").status_code == 401
    response = legacy(client, "adele@contoso.test", value)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 300
    # Other users are not affected by Adele's limit (different address too).
    make_user("megan@contoso.test")
    assert (
        legacy(client, "megan@contoso.test", PASSWORD, REMOTE_ADDR="192.0.2.9").status_code == 200
    )
    ThrottleBucket.objects.update(blocked_until=timezone.now() - timedelta(seconds=1))
    assert legacy(client, "adele@contoso.test", value).status_code == 200


def test_one_address_trying_many_users_is_limited(client: Client) -> None:
    make_user("adele@contoso.test")
    for index in range(50):
        legacy(client, f"ghost{index}@contoso.test", "wrong", REMOTE_ADDR="198.51.100.66")
    assert (
        legacy(client, "adele@contoso.test", PASSWORD, REMOTE_ADDR="198.51.100.66").status_code
        == 429
    )
    assert (
        legacy(client, "adele@contoso.test", PASSWORD, REMOTE_ADDR="198.51.100.67").status_code
        == 200
    )


# --- trusted IPs (Microsoft's MFA service settings, "Trusted IPs"): inside the corporate
# network, app passwords aren't required "if the user hasn't created an app password. After
# an app password is in use, the password is required." Outside, they are required. --------

INSIDE = "203.0.113.40"
OUTSIDE = "198.51.100.40"


def test_from_a_trusted_range_an_enforced_user_without_app_passwords_uses_the_password(
    client: Client,
) -> None:
    service_set(app_passwords_allowed=True, trusted_ip_ranges="203.0.113.0/24")
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", PASSWORD, REMOTE_ADDR=INSIDE).status_code == 200
    assert legacy(client, "adele@contoso.test", PASSWORD, REMOTE_ADDR=OUTSIDE).status_code == 401
    assert legacy(client, "adele@contoso.test", "wrong", REMOTE_ADDR=INSIDE).status_code == 401


def test_from_a_trusted_range_a_user_who_created_app_passwords_must_use_them(
    client: Client,
) -> None:
    service_set(trusted_ip_ranges="203.0.113.0/24")
    app_password = user_with_app_password(MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", PASSWORD, REMOTE_ADDR=INSIDE).status_code == 401
    assert legacy(client, "adele@contoso.test", app_password, REMOTE_ADDR=INSIDE).status_code == 200
    assert (
        legacy(client, "adele@contoso.test", app_password, REMOTE_ADDR=OUTSIDE).status_code == 200
    )


def test_without_trusted_ranges_the_password_is_refused_everywhere(client: Client) -> None:
    service_set(app_passwords_allowed=True, trusted_ip_ranges="")
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    assert legacy(client, "adele@contoso.test", PASSWORD, REMOTE_ADDR=INSIDE).status_code == 401
