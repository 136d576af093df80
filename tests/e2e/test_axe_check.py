"""The accessibility check itself: it must fail a page that is plainly inaccessible, or a
clean run on every other page would prove nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.admin_portal.axe import assert_accessible, axe_violations


def test_the_axe_check_fails_a_page_with_an_unlabelled_field_and_an_image_without_text(
    page: Page,
) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Bad</title></head><body><main>'
        '<h1>Bad</h1><img src="data:,"><input type="text"></main></body></html>'
    )
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"image-alt", "label"} <= found
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page)


def test_the_axe_check_passes_a_plain_accessible_page(page: Page) -> None:
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Good</title></head><body><main>'
        '<h1>Good</h1><label>Name <input type="text"></label></main></body></html>'
    )
    assert_accessible(page)
