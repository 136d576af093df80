from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from tests.e2e.conftest import screenshot
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_signs_in_and_sees_the_multi_factor_authentication_page(
    page: Page, sign_in: Callable[..., None]
) -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("zoe@contoso.test", display_name='Zoë <Ops> & "Sec"')
    sign_in("admin@contoso.test")
    expect(page.get_by_role("heading", name="multi-factor authentication")).to_be_visible()
    expect(page.get_by_role("cell", name='Zoë <Ops> & "Sec"', exact=True)).to_be_visible()
    screenshot(page, "admin-users")


def test_ordinary_user_signs_in_and_sees_her_own_page(
    page: Page, sign_in: Callable[..., None]
) -> None:
    make_user("adele@contoso.test", display_name="Adele Vance")
    sign_in("adele@contoso.test")
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    expect(page.get_by_text("Signed in as Adele Vance.")).to_be_visible()
    page.goto("/admin/users/")
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()


def test_wrong_password_shows_a_clear_message(page: Page, live_server) -> None:
    make_user("adele@contoso.test")
    page.goto("/signin/")
    page.get_by_label("User name").fill("adele@contoso.test")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Your account or password is incorrect.")
