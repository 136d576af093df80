"""App passwords (DESIGN §5.4): create, shown once, list, delete, limit 40, admin policy."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mfaportal.core.models import AuditEvent
from mfaportal.mfa.models import AppPassword, MfaState
from mfaportal.mfa.services.app_passwords import MAX_PER_USER, app_password_digest
from tests.factories import make_user
from tests.selfservice.helpers import service_set, session_proved

pytestmark = pytest.mark.django_db
PAGE = "/mfa/app-passwords/"


@pytest.fixture
def adele(client: Client):
    service_set(app_passwords_allowed=True)
    user = make_user(
        "adele@contoso.test",
        state=MfaState.ENFORCED,
        registered=True,
    )
    client.force_login(user)
    session_proved(client)
    return user


def create(client: Client, name: str = "Laptop") -> str:
    page = client.post(PAGE, {"name": name}, follow=True).content.decode()
    match = re.search(r'id="app-password" class="app-password">([a-z]+)<', page)
    assert match is not None, page
    return match.group(1)


def test_creating_an_app_password_shows_it_once(client: Client, adele) -> None:
    value = create(client)
    assert len(value) == 16 and value.isalpha() and value.islower()
    record = AppPassword.objects.get(user=adele)
    assert record.name == "Laptop" and record.digest == app_password_digest(value)
    page = client.get(PAGE).content.decode()
    assert "Laptop" in page and value not in page
    assert "never" in page  # last used
    assert AuditEvent.objects.filter(action="mfa.app_password_created", target=adele).exists()


def test_the_page_lists_created_date_and_last_use(client: Client, adele) -> None:
    create(client, "Phone mail")
    AppPassword.objects.update(last_used_at=timezone.now())
    page = client.get(PAGE).content.decode()
    assert "CREATED DATE" in page and "LAST USED" in page and "never" not in page


def test_deleting_asks_then_deletes(client: Client, adele) -> None:
    create(client)
    record = AppPassword.objects.get()
    confirm = client.get(f"{PAGE}{record.pk}/delete/").content.decode()
    assert "Delete app password" in confirm
    client.post(f"{PAGE}{record.pk}/delete/")
    assert not AppPassword.objects.exists()
    assert AuditEvent.objects.filter(action="mfa.app_password_deleted").exists()


def test_at_most_forty_app_passwords(client: Client, adele) -> None:
    AppPassword.objects.bulk_create(
        AppPassword(user=adele, name=f"device {n}", digest=f"{n:064x}") for n in range(MAX_PER_USER)
    )
    page = client.get(PAGE).content.decode()
    assert "You have 40 app passwords, the most allowed." in page
    response = client.post(PAGE, {"name": "one too many"})
    assert response.status_code == 400
    assert "already have 40 app passwords" in response.content.decode()
    assert AppPassword.objects.filter(user=adele).count() == MAX_PER_USER


def test_a_name_is_required(client: Client, adele) -> None:
    response = client.post(PAGE, {"name": "   "})
    assert not AppPassword.objects.exists() and response.status_code == 200


def test_hidden_and_refused_when_the_admin_disallows_them(client: Client, adele) -> None:
    service_set(app_passwords_allowed=False)
    assert "app passwords</a>" not in client.get("/mfa/setup/").content.decode()
    page = client.get(PAGE).content.decode()
    assert "doesn&#x27;t allow app passwords" in page or "doesn't allow app passwords" in page
    assert client.post(PAGE, {"name": "Laptop"}).status_code == 403
    assert not AppPassword.objects.exists()


def test_not_offered_to_users_without_multi_factor_authentication(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    client.force_login(make_user("adele@contoso.test", state=MfaState.DISABLED))
    assert client.post(PAGE, {"name": "Laptop"}).status_code == 403


def test_creating_asks_for_the_password_after_ten_minutes(client: Client, adele) -> None:
    session_proved(client, ago=timedelta(minutes=11))
    response = client.post(PAGE, {"name": "Tablet"})
    assert response["Location"] == "/mfa/reauthenticate/"
    assert not AppPassword.objects.exists()
    page = client.post(
        "/mfa/reauthenticate/", {"password": "Correct-Horse-9"}, follow=True
    ).content.decode()
    assert "Your app password" in page and re.search(r'id="app-password"[^>]*>[a-z]{16}<', page)
    assert AppPassword.objects.get().name == "Tablet"


def test_a_user_cannot_see_or_delete_another_users_app_password(client: Client, adele) -> None:
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED)
    theirs = AppPassword.objects.create(user=megan, name="Megan's Outlook", digest="f" * 64)
    assert "Megan&#x27;s Outlook" not in client.get(PAGE).content.decode()
    assert client.get(f"{PAGE}{theirs.pk}/delete/").status_code == 404
    assert client.post(f"{PAGE}{theirs.pk}/delete/").status_code == 404
    assert AppPassword.objects.filter(pk=theirs.pk).exists()


def test_creating_answers_with_a_redirect_and_a_reload_shows_it_no_more(
    client: Client, adele
) -> None:
    response = client.post(PAGE, {"name": "Laptop"})
    assert response.status_code == 302
    shown_at = response["Location"]
    assert shown_at.startswith("/mfa/app-passwords/created/")
    first = client.get(shown_at).content.decode()
    value = re.search(r'id="app-password" class="app-password">([a-z]{16})<', first)
    assert value is not None
    # A reload (or Back) reads nothing: the password is not shown again, nothing is created.
    again = client.get(shown_at).content.decode()
    assert value.group(1) not in again
    assert "This app password was shown once and is no longer shown." in again
    assert AppPassword.objects.filter(user=adele).count() == 1


def test_another_user_cannot_read_a_new_app_password_by_its_address(client: Client, adele) -> None:
    shown_at = client.post(PAGE, {"name": "Laptop"})["Location"]
    client.force_login(make_user("megan@contoso.test", state=MfaState.ENFORCED))
    assert "no longer shown" in client.get(shown_at).content.decode()
    client.force_login(adele)
    assert re.search(r'class="app-password">[a-z]{16}<', client.get(shown_at).content.decode())
