"""App passwords bound to an application (issue 16.4) at /legacy/auth.

The service comes as ``?service=NAME`` or the header ``X-MFA-Service`` (nginx sets it per
location). A password bound to another service, or used where no service is named, gets
403 with its own reason: whoever sent it holds the secret, so the answer tells a guesser
nothing, and it tells the person why Outlook's calendar is refused while mail works.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.mfa.models import AppPassword, MfaState, ThrottleBucket, UserMfa
from mfaportal.mfa.services.app_passwords import AppPasswordRefused, app_password_create
from mfaportal.selfservice import legacy as legacy_module
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import service_set

pytestmark = pytest.mark.django_db

UPN = "adele@contoso.test"


def basic(user: str, secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def app_password(service: str = "", *, state: MfaState = MfaState.ENFORCED) -> str:
    service_set(app_passwords_allowed=True)
    user = make_user(UPN, state=state, registered=True)
    _record, value = app_password_create(
        user=user,
        name="Phone",
        service=service,
        context=ChangeContext(actor=user, source=AuditSource.SELF_SERVICE),
    )
    return value


def legacy(client: Client, secret: str, query: str = "", **headers: Any):
    extra: dict[str, Any] = {**basic(UPN, secret), **headers}
    return client.get(f"/legacy/auth{query}", **extra)


def test_a_mail_password_signs_in_to_mail_named_in_the_query(client: Client) -> None:
    value = app_password("mail")
    assert legacy(client, value, "?service=mail").status_code == 200


def test_a_mail_password_signs_in_to_mail_named_by_the_nginx_header(client: Client) -> None:
    value = app_password("mail")
    assert legacy(client, value, HTTP_X_MFA_SERVICE="Mail").status_code == 200


def test_a_mail_password_is_refused_for_the_calendar_with_its_own_reason(client: Client) -> None:
    value = app_password("mail")
    response = legacy(client, value, "?service=calendar")
    assert response.status_code == 403
    assert response.json() == {"error": "app_password_not_for_this_service"}
    assert "WWW-Authenticate" not in response


def test_a_bound_password_is_refused_where_no_service_is_named(client: Client) -> None:
    value = app_password("office")
    assert legacy(client, value).status_code == 403


def test_a_password_bound_elsewhere_is_not_counted_as_a_guess(client: Client) -> None:
    value = app_password("mail")
    for _ in range(15):
        assert legacy(client, value, "?service=office").status_code == 403
    assert not ThrottleBucket.objects.filter(blocked_until__isnull=False).exists()
    assert legacy(client, value, "?service=mail").status_code == 200


@pytest.mark.parametrize("service", ["", "?service=mail", "?service=calendar", "?service=other"])
def test_an_unbound_password_works_for_every_service(client: Client, service: str) -> None:
    value = app_password("")
    assert legacy(client, value, service).status_code == 200


@pytest.mark.parametrize("query", ["?service=imap", "?service=mail%00"])
def test_an_unknown_service_is_a_bad_request(client: Client, query: str) -> None:
    value = app_password("")
    response = legacy(client, value, query)
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_service"


def test_an_unknown_service_in_the_header_is_a_bad_request(client: Client) -> None:
    value = app_password("")
    assert legacy(client, value, HTTP_X_MFA_SERVICE="smtp").status_code == 400


def test_query_and_header_naming_different_services_is_a_bad_request(client: Client) -> None:
    value = app_password("mail")
    response = legacy(client, value, "?service=mail", HTTP_X_MFA_SERVICE="calendar")
    assert response.status_code == 400


def test_a_wrong_password_with_a_service_is_still_a_401(client: Client) -> None:
    app_password("mail")
    response = legacy(client, "not-the-secret", "?service=mail")
    assert response.status_code == 401 and "WWW-Authenticate" in response


def test_the_account_password_is_not_affected_by_the_service(client: Client) -> None:
    app_password("mail")
    UserMfa.objects.update(state=MfaState.DISABLED)
    assert legacy(client, PASSWORD, "?service=calendar").status_code == 200


def test_last_use_records_the_time_the_service_and_the_client_address(client: Client) -> None:
    value = app_password("")
    assert legacy(client, value, "?service=calendar", REMOTE_ADDR="203.0.113.9").status_code == 200
    record = AppPassword.objects.get()
    assert record.last_used_at is not None
    assert (record.last_used_service, record.last_used_address) == ("calendar", "203.0.113.9")


def test_last_use_follows_a_change_of_service_within_the_minute(client: Client) -> None:
    value = app_password("")
    legacy(client, value, "?service=calendar", REMOTE_ADDR="203.0.113.9")
    legacy(client, value, "?service=mail", REMOTE_ADDR="203.0.113.10")
    record = AppPassword.objects.get()
    assert (record.last_used_service, record.last_used_address) == ("mail", "203.0.113.10")


def test_last_use_is_written_at_most_once_a_minute_for_the_same_use(client: Client) -> None:
    value = app_password("")
    legacy(client, value, "?service=mail", REMOTE_ADDR="203.0.113.9")
    earlier = timezone.now() - timedelta(seconds=20)
    AppPassword.objects.update(last_used_at=earlier)
    legacy(client, value, "?service=mail", REMOTE_ADDR="203.0.113.9")
    assert AppPassword.objects.get().last_used_at == earlier


def test_the_general_way_also_refuses_a_password_bound_elsewhere(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-query fast path hands anything unusual to the general way, which decides
    then and must keep the binding too."""
    value = app_password("mail")
    monkeypatch.setattr(legacy_module, "_app_password_fast_path", lambda *args, **kwargs: None)
    assert legacy(client, value, "?service=office").status_code == 403
    assert legacy(client, value, "?service=mail").status_code == 200
    assert not ThrottleBucket.objects.filter(blocked_until__isnull=False).exists()


def test_creating_with_an_unknown_service_is_refused() -> None:
    service_set(app_passwords_allowed=True)
    user = make_user(UPN, state=MfaState.ENFORCED, registered=True)
    with pytest.raises(AppPasswordRefused):
        app_password_create(
            user=user,
            name="Phone",
            service="imap",
            context=ChangeContext(actor=user, source=AuditSource.SELF_SERVICE),
        )


def test_when_binding_is_required_an_unbound_password_cannot_be_created() -> None:
    service_set(app_passwords_allowed=True, app_password_binding_required=True)
    user = make_user(UPN, state=MfaState.ENFORCED, registered=True)
    context = ChangeContext(actor=user, source=AuditSource.SELF_SERVICE)
    with pytest.raises(AppPasswordRefused, match="requires"):
        app_password_create(user=user, name="Phone", context=context)
    record, _value = app_password_create(user=user, name="Phone", service="mail", context=context)
    assert record.service == "mail"


def test_unbound_passwords_made_before_binding_was_required_keep_working(client: Client) -> None:
    value = app_password("")
    service_set(app_password_binding_required=True)
    assert legacy(client, value, "?service=office").status_code == 200
