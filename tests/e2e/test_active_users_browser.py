"""Active users in Chromium: seed 000's way into the multi-factor authentication page, with
and without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.mfa.models import MfaState, UserMfa
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def state_of(upn: str) -> MfaState:
    return MfaState(UserMfa.objects.get(user__user_principal_name=upn).state)


@pytest.fixture
def tenant() -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("adele@contoso.test", display_name="Adele Vance")
    make_user("alex@contoso.test", display_name="Alex Wilber", state=MfaState.ENABLED)
    make_user("megan@contoso.test", display_name="Megan Bowen")
    make_user("nestor@contoso.test", display_name="Nestor Wilke", is_licensed=False)


def test_seed_000_an_admin_enables_one_user_from_active_users(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    """Seed 000, *How to Enable 2FA in the Office 365 Admin Portal*, "to enable 2FA one user
    at a time", steps 1 to 7, in its words."""
    # 1. Log in to the Office 365 admin portal using an administrator account.
    sign_in("admin@contoso.test")

    # 2. In the menu on the left of the portal, expand Users and Active users.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Active users").click()
    expect(page.get_by_role("heading", name="Active users", level=1)).to_be_visible()
    expect(page.get_by_role("cell", name="Unlicensed")).to_be_visible()  # Nestor
    screenshot(page, "admin-active-users")

    # 3. In the list of users, click the user for which you want to enable 2FA. Note that
    #    only licensed users can use 2FA.
    page.get_by_role("link", name="Adele Vance").click()
    pane = page.get_by_role("complementary", name="User")
    expect(pane.get_by_role("heading", name="Adele Vance")).to_be_visible()
    expect(pane.get_by_text("adele@contoso.test")).to_be_visible()
    expect(pane.get_by_text("Licensed", exact=True)).to_be_visible()

    # 4. In the user's pane, click Manage multi-factor authentication under More settings.
    expect(pane.get_by_role("heading", name="More settings")).to_be_visible()
    screenshot(page, "admin-active-users-pane")
    assert_accessible(page)
    pane.get_by_role("link", name="Manage multi-factor authentication").click()

    # 5. On the multi-factor authentication screen, select the user account to enable, and
    #    then click Enable under quick steps on the right.
    expect(page.get_by_role("heading", name="multi-factor authentication", level=1)).to_be_visible()
    adele = page.get_by_role("checkbox", name="Select Adele Vance")
    expect(adele).to_be_checked()  # selected already: the pane opened the page on her
    quick_steps = page.get_by_role("complementary", name="quick steps")
    expect(quick_steps.get_by_role("heading", name="Adele Vance")).to_be_visible()
    screenshot(page, "admin-users-from-active-users")
    quick_steps.get_by_role("button", name="Enable", exact=True).click()

    # 6. In the About enabling multi-factor auth dialog box, click enable multi-factor auth.
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    dialog.get_by_role("button", name="close").click()

    # 7. The MULTI-FACTOR AUTH STATUS should change to Enabled. Close the browser window and
    #    sign out of the admin portal.
    row = page.get_by_role("row").filter(has_text="adele@contoso.test")
    expect(row.get_by_role("cell", name="Enabled", exact=True)).to_be_visible()
    assert state_of("adele@contoso.test") == MfaState.ENABLED
    assert state_of("megan@contoso.test") == MfaState.DISABLED
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_without_javascript_active_users_still_leads_to_the_user_selected(
    browser, live_server, tenant: None
) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/signin/")
    page.get_by_label("User name").fill("admin@contoso.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/admin/active-users/")
    page.get_by_label("Search by display name, user name or mail").fill("me")
    page.get_by_role("button", name="search").click()
    expect(page.locator("#active-results tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Megan Bowen").click()
    expect(page).to_have_url(re.compile(r"q=me.*user="))
    pane = page.get_by_role("complementary", name="User")
    pane.get_by_role("link", name="Manage multi-factor authentication").click()
    expect(page.get_by_role("checkbox", name="Select Megan Bowen")).to_be_checked()
    # The quick steps are drawn with the page: Enable is a plain form's button.
    page.get_by_role("complementary", name="quick steps").get_by_role(
        "button", name="Enable", exact=True
    ).click()
    page.get_by_role("button", name="enable multi-factor auth").click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    assert state_of("megan@contoso.test") == MfaState.ENABLED
    context.close()
