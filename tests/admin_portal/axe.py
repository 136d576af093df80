"""axe-core accessibility checks for the admin pages' browser tests."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

_axe = Axe()


def assert_accessible(page: Page) -> None:
    """axe finds no violation on the page as it is now (WCAG 2 A/AA rules)."""
    results = _axe.run(
        page,
        options={
            "resultTypes": ["violations"],
            "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        },
    )
    assert results.violations_count == 0, results.generate_report()
