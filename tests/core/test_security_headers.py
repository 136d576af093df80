"""Security headers on every page: CSP, frame denial, referrer policy, cookies."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client, override_settings

from mfaportal.core.logging import JsonFormatter
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_pages_carry_a_content_security_policy_without_inline_script(client: Client) -> None:
    csp = client.get("/signin/")["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp


def test_pages_cannot_be_framed_and_do_not_leak_referrers(client: Client) -> None:
    response = client.get("/signin/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_and_csrf_cookies_are_http_only(client: Client) -> None:
    make_user("adele@contoso.test")
    client.get("/signin/")
    response = client.post("/signin/", {"username": "adele@contoso.test", "password": PASSWORD})
    assert response.cookies["sessionid"]["httponly"]
    assert response.cookies["sessionid"]["samesite"] == "Lax"


def test_signed_in_pages_are_not_cached(client: Client) -> None:
    client.force_login(make_user("adele@contoso.test"))
    assert "no-store" in client.get("/mfa/setup/")["Cache-Control"]


@override_settings(
    SECURE_HSTS_SECONDS=31536000,
    SECURE_HSTS_INCLUDE_SUBDOMAINS=True,
    SECURE_SSL_REDIRECT=False,
    SESSION_COOKIE_SECURE=True,
)
def test_production_sends_hsts_and_secure_cookies(client: Client) -> None:
    make_user("adele@contoso.test")
    client.get("/signin/", secure=True)
    response = client.post(
        "/signin/", {"username": "adele@contoso.test", "password": PASSWORD}, secure=True
    )
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.cookies["sessionid"]["secure"]


def test_health_answers_without_signing_in(client: Client) -> None:
    assert client.get("/health/").json() == {"status": "ok"}


def test_ready_checks_the_database_and_migrations(client: Client) -> None:
    assert client.get("/ready/").json() == {"status": "ok", "database": "ok"}


def test_json_log_lines_carry_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "mfaportal.test", "levelname": "INFO", "msg": "sync done", "users": 42}
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "sync done" and entry["users"] == 42
