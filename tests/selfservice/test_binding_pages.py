"""Creating an app password for one application (issue 16.4): the App passwords page and
the registration step offer "what is it for", the list shows it and the last use."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mfaportal.mfa.models import AppPassword, MfaState
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import (
    last_code,
    password_step,
    service_set,
    session_proved,
    text,
)

pytestmark = pytest.mark.django_db
PAGE = "/mfa/app-passwords/"
REGISTER = "/signin/register/"
VERIFY = "/signin/register/verify/"
APP_PASSWORDS_STEP = "/signin/register/app-passwords/"


@pytest.fixture
def adele(client: Client):
    service_set(app_passwords_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(user)
    session_proved(client)
    return user


def options(page: str) -> list[str]:
    select = re.search(r'<select id="id_service".*?</select>', page, re.S)
    assert select is not None, "no service choice on the page"
    return re.findall(r">([^<]+)</option>", select.group(0))


def row(page: str, name: str) -> list[str]:
    """The cells of the list's row for the app password ``name``, as text."""
    for found in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = [
            re.sub(r"<[^>]+>|\s+", " ", cell).strip()
            for cell in re.findall(r"<td>(.*?)</td>", found, re.S)
        ]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row for {name}")


def test_the_page_offers_what_the_password_is_for_with_any_application_first(
    client: Client, adele
) -> None:
    page = client.get(PAGE).content.decode()
    assert options(page) == [
        "Any application",
        "Mail (IMAP/POP/SMTP)",
        "Calendar and contacts",
        "Office apps",
        "Other",
    ]
    assert "What is it for?" in page


def test_a_password_created_for_mail_is_bound_and_listed_as_mail(client: Client, adele) -> None:
    response = client.post(PAGE, {"name": "Phone mail", "service": "mail"})
    assert response.status_code == 302
    assert AppPassword.objects.get(user=adele).service == "mail"
    page = client.get(PAGE).content.decode()
    assert row(page, "Phone mail")[1] == "Mail (IMAP/POP/SMTP)"


def test_a_password_created_without_a_choice_works_for_any_application(
    client: Client, adele
) -> None:
    client.post(PAGE, {"name": "Laptop"})
    assert AppPassword.objects.get(user=adele).service == ""
    assert row(client.get(PAGE).content.decode(), "Laptop")[1] == "Any application"


def test_an_unknown_service_is_refused_with_a_clear_message(client: Client, adele) -> None:
    response = client.post(PAGE, {"name": "Laptop", "service": "imap"})
    assert response.status_code == 400
    assert "Choose what the app password is for from the list." in text(response)
    assert not AppPassword.objects.exists()
    assert 'value="Laptop"' in response.content.decode()  # nothing typed is lost


def test_when_the_admin_requires_a_binding_the_page_asks_to_choose_one(
    client: Client, adele
) -> None:
    service_set(app_password_binding_required=True)
    page = client.get(PAGE).content.decode()
    assert options(page)[0] == "Choose one" and "Any application" not in options(page)
    assert "Your administrator requires you to choose one." in page
    response = client.post(PAGE, {"name": "Laptop"})
    assert response.status_code == 400
    assert "your administrator requires it" in text(response)
    assert not AppPassword.objects.exists()
    assert client.post(PAGE, {"name": "Laptop", "service": "office"}).status_code == 302


def test_the_choice_survives_the_password_check_after_ten_minutes(client: Client, adele) -> None:
    session_proved(client, ago=timedelta(minutes=11))
    response = client.post(PAGE, {"name": "Tablet", "service": "calendar"})
    assert response["Location"] == "/mfa/reauthenticate/"
    client.post("/mfa/reauthenticate/", {"password": PASSWORD})
    assert AppPassword.objects.get(user=adele).service == "calendar"


def test_the_list_shows_when_for_which_service_and_from_where_it_was_last_used(
    client: Client, adele
) -> None:
    client.post(PAGE, {"name": "Laptop"})
    AppPassword.objects.update(
        last_used_at=timezone.now(), last_used_service="calendar", last_used_address="203.0.113.9"
    )
    last_use = row(client.get(PAGE).content.decode(), "Laptop")[3]
    assert last_use.endswith("Calendar and contacts, from 203.0.113.9"), last_use


def test_the_registration_step_creates_a_password_for_the_chosen_service(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    client.post(
        REGISTER,
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "425 555 0100",
            "auth-how": "text",
        },
    )
    client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    page = client.get(APP_PASSWORDS_STEP).content.decode()
    assert 'id="id_app_password_service"' in page and "Mail (IMAP/POP/SMTP)" in page
    client.post(APP_PASSWORDS_STEP, {"action": "create", "name": "Outlook", "service": "mail"})
    assert AppPassword.objects.get(user=user).service == "mail"


def test_at_registration_a_required_binding_is_asked_for_and_nothing_typed_is_lost(
    client: Client,
) -> None:
    service_set(app_passwords_allowed=True, app_password_binding_required=True)
    user = make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    client.post(
        REGISTER,
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "425 555 0100",
            "auth-how": "text",
        },
    )
    client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    response = client.post(APP_PASSWORDS_STEP, {"action": "create", "name": "Outlook"})
    assert response.status_code == 400
    assert "your administrator requires it" in text(response)
    assert 'value="Outlook"' in response.content.decode()
    assert not AppPassword.objects.filter(user=user).exists()
    client.post(APP_PASSWORDS_STEP, {"action": "create", "name": "Outlook", "service": "office"})
    assert AppPassword.objects.get(user=user).service == "office"


def test_a_very_long_service_value_gets_the_clear_message(client: Client, adele) -> None:
    response = client.post(PAGE, {"name": "Laptop", "service": "m" * 500})
    assert response.status_code == 400
    assert "Choose what the app password is for from the list." in text(response)
