"""Temporary Access Pass in Chromium (issue 16.2), walked as people do: the helpdesk issues a
pass from the user detail page and reads it out; the user who lost their phone signs in with
it, lands on registration and registers a method; the one-time pass is refused the second
time."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod
from tests.e2e.conftest import code_from_phone, look
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_helpdesk_issues_a_pass_and_the_user_who_lost_their_phone_registers_again(
    page: Page, sign_in
) -> None:
    make_user(
        "helpdesk@contoso.test",
        display_name="Helpdesk Agent",
        admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
    )
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )

    # The helpdesk finds Megan, requires re-registration and issues a one-time pass.
    sign_in("helpdesk@contoso.test")
    page.goto("/admin/users/?q=megan")
    page.get_by_role("link", name="Megan Bowen").click()
    expect(page.get_by_role("heading", name="Megan Bowen").first).to_be_visible()
    page.get_by_label("Require selected users to provide contact methods again").check()
    page.get_by_role("button", name="save").click()
    expect(page.get_by_text("Updates successful")).to_be_visible()
    page.get_by_role("link", name="add Temporary Access Pass").click()
    expect(page.get_by_role("heading", name="Add a Temporary Access Pass")).to_be_visible()
    expect(page.get_by_label("Lifetime", exact=True)).to_have_value("1")
    page.get_by_label("One-time use").check()
    look(page, "admin-temporary-access-pass")
    page.get_by_role("button", name="add").click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    temporary_access_pass = page.locator("#temporary-access-pass").inner_text()
    assert len(temporary_access_pass) == 12
    look(page, "admin-temporary-access-pass-shown")
    page.get_by_role("link", name="close").click()
    expect(page.get_by_text("Usable until")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # Megan signs in with it instead of her password and lost phone.
    page.goto("/signin/")
    page.get_by_role("link", name="Sign in with a Temporary Access Pass").click()
    page.get_by_label("User name").fill("megan@contoso.test")
    page.get_by_label("Temporary Access Pass").fill(temporary_access_pass)
    look(page, "selfservice-signin-temporary-access-pass")
    page.get_by_role("button", name="Sign in").click()

    # Registration: her new phone, by text message.
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Contact method").select_option("authentication_phone")
    page.get_by_label("Country or region").first.select_option("US")
    page.get_by_label("Phone number").first.fill("(425) 555-0199")
    page.get_by_label("Send me a code by text message").check()
    page.get_by_role("button", name="Contact me").click()
    page.get_by_label("Verification code").fill(code_from_phone(page, "+14255550199"))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert VerificationMethod.objects.filter(user=megan, phone_number="+14255550199").exists()
    assert not UserMfa.objects.get(user=megan).must_register
    page.get_by_role("button", name="Sign out").click()

    # The pass was for one use: a second sign-in with it is refused, and says why.
    page.goto("/signin/temporary-access-pass/")
    page.get_by_label("User name").fill("megan@contoso.test")
    page.get_by_label("Temporary Access Pass").fill(temporary_access_pass)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This Temporary Access Pass has already been used"
    )
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
