"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Chromium is never downloaded: the tests launch /usr/bin/chromium (``MFAPORTAL_CHROMIUM`` to
override). A missing browser is an error, not a skip: CI must run every browser test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.admin_portal.axe import assert_accessible
from tests.factories import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# (factories, assertions) are ordinary blocking calls, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("MFAPORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = (
    Path(os.environ.get("MFAPORTAL_SCREENSHOTS", ""))
    if os.environ.get("MFAPORTAL_SCREENSHOTS")
    else None
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in item.nodeid.split("/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package.")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def sign_in(page: Page) -> Callable[..., None]:
    def sign_in(upn: str, password: str = PASSWORD) -> None:
        page.goto("/signin/")
        page.get_by_label("User name").fill(upn)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    return sign_in


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot for docs/ when MFAPORTAL_SCREENSHOTS names a folder."""
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def look(page: Page, name: str) -> None:
    """Screenshot the page for docs/ and check it with axe (WCAG 2.1 A/AA)."""
    screenshot(page, name)
    assert_accessible(page)


def code_from_phone(page: Page, number: str) -> str:
    """The newest six-digit code texted to ``number``, read off the phone simulator in
    another tab."""
    phone = page.context.new_page()
    phone.goto(f"/demo/phone/?number={number.replace('+', '%2B')}")
    body = phone.locator(".sim-text .sim-body").first.inner_text()
    phone.close()
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def htmx_settled(page: Page) -> None:
    """Wait until htmx is loaded and no request, swap or settle is under way, so the
    controls a swap brought in are wired up before a key press reaches them."""
    page.wait_for_function(
        "() => window.htmx !== undefined"
        " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )


def is_focused(locator: Locator) -> bool:
    return bool(locator.evaluate("element => element === document.activeElement"))


def tab_to(page: Page, target: Locator, *, limit: int = 80) -> None:
    """Press Tab, as a keyboard user would, until the target has the focus."""
    for _ in range(limit):
        if is_focused(target):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")
