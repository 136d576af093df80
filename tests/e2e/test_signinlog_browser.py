"""The sign-in log in Chromium (issue 16.5): a person fails and then succeeds at signing in;
an admin finds both on the Sign-ins page and on the user's detail page, filters by result and
downloads the CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_finds_a_failed_and_a_successful_sign_in_in_the_sign_in_log(
    page: Page, sign_in: Callable[..., None]
) -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("chris@contoso.test", display_name="Chris Green")

    # Chris mistypes the password, then gets it right, then signs out.
    page.goto("/signin/")
    page.get_by_label("User name").fill("chris@contoso.test")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Your account or password is incorrect.")).to_be_visible()
    sign_in("chris@contoso.test", PASSWORD)
    page.get_by_role("button", name="Sign out").click()

    sign_in("admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_role("link", name="sign-ins").click()
    expect(page.get_by_role("heading", name="sign-ins")).to_be_visible()
    table = page.locator("main table")
    chris_rows = table.locator("tbody tr", has_text="chris@contoso.test")
    expect(chris_rows).to_have_count(2)
    expect(chris_rows.filter(has_text="Wrong password")).to_have_count(1)
    expect(chris_rows.filter(has_text="Success")).to_have_count(1)
    assert_accessible(page)
    screenshot(page, "admin-sign-ins")

    # Only the failures.
    page.get_by_label("Result").select_option(label="Failure")
    page.get_by_role("button", name="search").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr")).to_contain_text("Wrong password")
    assert_accessible(page)

    # The CSV holds what the page shows.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download these sign-ins (CSV)").click()
    download = download_info.value
    lines = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert lines[0][:2] == ["Date (UTC)", "User"]
    assert [(row[1], row[4], row[5]) for row in lines[1:]] == [
        ("chris@contoso.test", "failure", "wrong_password")
    ]

    # From the log to Chris's page, whose recent sign-ins hold both attempts.
    page.get_by_role("link", name="chris@contoso.test").click()
    recent = page.locator("section", has=page.get_by_role("heading", name="recent sign-ins"))
    expect(recent.locator("tbody tr")).to_have_count(2)
    expect(recent).to_contain_text("Wrong password")
    expect(recent).to_contain_text("Success")
    assert_accessible(page)
