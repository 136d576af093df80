"""The CSRF token pages draw (mfaportal.core.csrf): Django's token, masked with a mask of
its own on every page, which Django's middleware accepts; never anything weaker."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.middleware import csrf as django_csrf
from django.middleware.csrf import CSRF_ALLOWED_CHARS
from django.test import Client, RequestFactory

from mfaportal.core import csrf

# Django's own unmasking, which its middleware applies to every token a form sends back.
_unmask_cipher_token = django_csrf._unmask_cipher_token  # type: ignore[attr-defined]

FORM_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
HEADER_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')


def _tokens(html: str) -> list[str]:
    return FORM_TOKEN.findall(html) + HEADER_TOKEN.findall(html)


@pytest.mark.django_db
def test_a_page_draws_a_fresh_mask_of_the_visitors_own_secret_each_time() -> None:
    client = Client(enforce_csrf_checks=True)
    first = _tokens(client.get("/signin/").content.decode())
    secret = client.cookies["csrftoken"].value
    second = _tokens(client.get("/signin/").content.decode())
    assert first and second
    assert not set(first) & set(second), "every page masks the secret anew"
    for token in first + second:
        assert len(token) == 64 and set(token) <= set(CSRF_ALLOWED_CHARS)
        assert _unmask_cipher_token(token) == secret


@pytest.mark.django_db
def test_a_form_posts_with_the_token_its_page_drew_and_not_with_a_forged_one() -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/signin/")  # the cookie, as a browser has it before it reads a page
    token = _tokens(client.get("/signin/").content.decode())[0]
    forged = "a" * 32 + token[32:]
    refused = client.post("/i18n/setlang/", {"language": "es", "csrfmiddlewaretoken": forged})
    assert refused.status_code == 403
    accepted = client.post("/i18n/setlang/", {"language": "es", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302


@pytest.mark.django_db
def test_a_page_renews_the_token_cookie_as_djangos_own_token_does() -> None:
    client = Client()
    client.get("/signin/")
    secret = client.cookies["csrftoken"].value
    answer = client.get("/signin/")
    assert answer.cookies["csrftoken"].value == secret, "the cookie is sent again, unchanged"


def test_a_first_visit_with_no_secret_yet_gets_one_from_django() -> None:
    request = RequestFactory().get("/")
    token = csrf.masked_token(request)
    assert _unmask_cipher_token(token) == request.META["CSRF_COOKIE"]


def test_mask_bytes_that_would_favour_some_characters_are_never_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 248 and above would map onto the alphabet's first eight characters a fifth time.
    reads = iter([bytes([248, 249, 255] * 16), bytes([0, 61, 62, 247] * 12)])
    monkeypatch.setattr(csrf.os, "urandom", lambda count: next(reads)[:count])
    mask = csrf._random_chars(32)
    first, last = CSRF_ALLOWED_CHARS[0], CSRF_ALLOWED_CHARS[61]
    assert mask == (first + last) * 16, "0 and 62 are the first character, 61 and 247 the last"


def test_every_mask_character_is_about_as_likely_as_any_other() -> None:
    seen = Counter("".join(csrf._random_chars(32) for _ in range(4000)))
    expected = 4000 * 32 / len(CSRF_ALLOWED_CHARS)  # ~2065 each
    assert set(seen) == set(CSRF_ALLOWED_CHARS)
    # Eight characters favoured by a plain byte % 62 would come up ~1.24 times as often.
    assert max(seen.values()) < expected * 1.12 and min(seen.values()) > expected * 0.88
