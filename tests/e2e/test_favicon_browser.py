"""Chromium asks for /favicon.ico and the page's icon: neither is a 404."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Response

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_browser_finds_the_portals_icon(page: Page) -> None:
    answers: list[Response] = []
    page.on("response", lambda answer: answers.append(answer))
    page.goto("/signin/")
    ico = page.request.get("/favicon.ico")
    assert ico.ok
    assert ico.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    svg_href = page.locator("link[rel=icon][type='image/svg+xml']").get_attribute("href")
    assert svg_href
    svg = page.request.get(svg_href)
    assert svg.ok
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert not [answer.url for answer in answers if answer.status == 404]
