"""``/signout/`` opened as a page (a bookmark, a typed address, a link in a mail) asks before
it signs anyone out; the button on it, like the header's, posts."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_user

pytestmark = pytest.mark.django_db
SIGNOUT = reverse("signout")


def test_opening_the_sign_out_address_asks_to_confirm_and_signs_nobody_out(
    client: Client,
) -> None:
    client.force_login(make_user("adele@contoso.test"))
    response = client.get(SIGNOUT)
    assert response.status_code == 200
    html = response.content.decode()
    main = html.split("<main", 1)[1]
    assert "<h1>Sign out</h1>" in main
    assert "adele@contoso.test" in main
    assert re.search(rf'<form method="post" action="{SIGNOUT}">', main)
    assert 'name="csrfmiddlewaretoken"' in main
    assert client.get(reverse("selfservice:setup")).status_code == 200  # still signed in
    assert "no-store" in response["Cache-Control"]


def test_the_confirmation_signs_out(client: Client) -> None:
    client.force_login(make_user("adele@contoso.test"))
    response = client.post(SIGNOUT)
    assert response.status_code == 302
    assert response["Location"] == reverse("signin")
    assert client.get(reverse("selfservice:setup")).status_code == 302


def test_staying_signed_in_goes_back_to_the_portal(client: Client) -> None:
    client.force_login(make_user("adele@contoso.test"))
    html = client.get(SIGNOUT).content.decode().split("<main", 1)[1]
    assert re.search(r'<a class="button" href="/">Stay signed in</a>', html)


def test_someone_not_signed_in_is_sent_to_sign_in(client: Client) -> None:
    response = client.get(SIGNOUT)
    assert response.status_code == 302
    assert response["Location"] == reverse("signin")


def test_signing_out_still_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("adele@contoso.test"))
    assert client.post(SIGNOUT).status_code == 403
    assert client.get(reverse("selfservice:setup")).status_code == 200


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_refused(client: Client, method: str) -> None:
    client.force_login(make_user("adele@contoso.test"))
    assert getattr(client, method)(SIGNOUT).status_code == 405
