from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def sign_in(client: Client, username: str, password: str = PASSWORD, next_url: str = ""):
    return client.post(
        reverse("signin"), {"username": username, "password": password, "next": next_url}
    )


def test_sign_in_with_upn_and_password_in_any_case(client: Client) -> None:
    make_user("Adele.Vance@contoso.test")
    response = sign_in(client, "ADELE.vance@contoso.test")
    assert response.status_code == 302 and response["Location"] == "/"


def test_wrong_password_and_unknown_user_get_the_same_message(client: Client) -> None:
    make_user("adele@contoso.test")
    wrong = sign_in(client, "adele@contoso.test", "nope").content.decode()
    unknown = sign_in(client, "ghost@contoso.test", "nope").content.decode()
    assert "Your account or password is incorrect." in wrong
    assert "Your account or password is incorrect." in unknown


def test_blocked_user_cannot_sign_in(client: Client) -> None:
    make_user("blocked@contoso.test", account_enabled=False)
    response = sign_in(client, "blocked@contoso.test")
    assert response.status_code == 200
    assert "Your account has been locked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_in_rotates_the_session_key(client: Client) -> None:
    make_user("adele@contoso.test")
    client.get(reverse("signin"))
    client.session.save()
    before = client.session.session_key
    sign_in(client, "adele@contoso.test")
    assert client.session.session_key != before


@pytest.mark.parametrize(
    "target", ["https://evil.test/", "//evil.test/x", "javascript:alert(1)", "/\\evil.test"]
)
def test_next_pointing_off_site_is_ignored(client: Client, target: str) -> None:
    make_user("adele@contoso.test")
    response = sign_in(client, "adele@contoso.test", next_url=target)
    assert response["Location"] == "/"


def test_next_on_site_is_followed(client: Client) -> None:
    make_user("adele@contoso.test")
    response = sign_in(client, "adele@contoso.test", next_url="/mfa/setup/")
    assert response["Location"] == "/mfa/setup/"


def test_sign_out_ends_the_session_only_when_posted(client: Client) -> None:
    client.force_login(make_user("adele@contoso.test"))
    assert client.get(reverse("signout")).status_code == 200  # asks first (test_signout.py)
    assert client.get(reverse("selfservice:setup")).status_code == 200
    client.post(reverse("signout"))
    assert client.get(reverse("selfservice:setup")).status_code == 302


def test_display_names_from_the_directory_are_escaped(client: Client) -> None:
    client.force_login(make_user("x@contoso.test", display_name="<script>alert(1)</script>"))
    body = client.get(reverse("selfservice:setup")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_repeated_wrong_passwords_lock_the_user_name_for_a_while(client: Client) -> None:
    make_user("adele@contoso.test")
    for _attempt in range(10):
        sign_in(client, "adele@contoso.test", "wrong")
    response = sign_in(client, "adele@contoso.test")  # even the right password now waits
    assert "too many times" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_guessing_unknown_user_names_is_locked_the_same_way(client: Client) -> None:
    for _attempt in range(10):
        sign_in(client, "ghost@contoso.test", "wrong")
    assert "too many times" in sign_in(client, "ghost@contoso.test", "wrong").content.decode()


def test_one_address_guessing_many_user_names_is_locked(client: Client) -> None:
    make_user("adele@contoso.test")
    for number in range(50):
        sign_in(client, f"guess{number}@contoso.test", "wrong")
    assert "too many times" in sign_in(client, "adele@contoso.test").content.decode()
