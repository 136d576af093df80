"""A request still under way with the old session key must not sign out someone who just
signed in (signing in rotates the key; htmx polls and other tabs still carry the old one)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_request_with_a_rotated_away_session_leaves_the_new_cookie_alone(
    client: Client,
) -> None:
    stale = SessionStore()
    stale["flow:sign_in"] = "4f0c0b5e-3a52-4a36-9d0e-5b2f8f7c1a11"  # a sign-in under way
    stale.save()
    stale_key = str(stale.session_key)
    stale.delete()  # what login()'s key rotation did in the meantime
    client.cookies[settings.SESSION_COOKIE_NAME] = stale_key
    response = client.post("/signin/verify/", {"action": "check"}, headers={"HX-Request": "true"})
    assert response.status_code == 286  # htmx: stop polling
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_signing_out_still_deletes_the_session_cookie(client: Client) -> None:
    client.force_login(make_user("adele@contoso.test"))
    response = client.post("/signout/")
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value == "" and cookie["max-age"] == 0


def test_an_expired_sign_in_in_the_browser_says_so(client: Client) -> None:
    response = client.get("/signin/verify/", follow=True)
    assert "Your sign-in took too long or was interrupted." in response.content.decode()
