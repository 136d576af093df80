"""Browser tests in Chromium: registration (app in code mode, text message), app passwords,
and a later sign-in with the challenge. Each page is screenshotted for docs/."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import totp
from mfaportal.mfa.models import MfaState, ServiceSettings, UserMfa
from mfaportal.mfa.services import mfa_state_set
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import add_app

pytestmark = pytest.mark.django_db(transaction=True)


def look(page: Page, name: str) -> None:
    """Screenshot the page for docs/ and check it with axe (WCAG 2.1 A/AA)."""
    screenshot(page, name)
    assert_accessible(page)


def allow(**fields: object) -> None:
    ServiceSettings.load()
    ServiceSettings.objects.filter(pk=1).update(**fields)


def password(page: Page, upn: str, secret: str = PASSWORD) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def code_from_phone(page: Page, number: str) -> str:
    """Read the newest code texted to ``number`` off the phone simulator, in another tab."""
    phone = page.context.new_page()
    phone.goto(f"/demo/phone/?number={number.replace('+', '%2B')}")
    expect(phone.get_by_text("Simulator — local demo only")).to_be_visible()
    body = phone.locator(".sim-text .sim-body").first.inner_text()
    look(phone, "selfservice-phone-simulator")
    phone.close()
    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, body
    return match.group(1)


def current_code(secret: str) -> str:
    return totp.code_at(secret, step=totp.current_step())


def test_adele_registers_the_mobile_app_in_code_mode_at_her_first_sign_in(page: Page) -> None:
    allow(app_passwords_allowed=True)
    adele = make_user("adele@contoso.test", display_name="Adele Vance")
    # An admin enables her (Disabled → Enabled).
    mfa_state_set(
        users=DirectoryUser.objects.filter(pk=adele.pk),
        state=MfaState.ENABLED,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    password(page, "adele@contoso.test")
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("link", name="Set it up now").click()

    expect(page.get_by_role("heading", name="Step 1: How should we contact you?")).to_be_visible()
    page.get_by_label("Contact method").select_option("mobile_app")
    page.get_by_label("Use verification code").check()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Set up").click()

    expect(page.get_by_role("heading", name="Configure mobile app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = totp.secret_normalise(page.locator("#secret-key").inner_text())
    expect(page.locator("#account-name")).to_have_text(
        "MFA Portal (contoso.test):adele@contoso.test"
    )
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Finished").click()
    expect(
        page.get_by_text("Mobile app has been configured for notifications and verification codes.")
    ).to_be_visible()
    page.get_by_role("button", name="Contact me").click()

    expect(
        page.get_by_role("heading", name="Step 2: Enter the verification code from the mobile app")
    ).to_be_visible()
    page.get_by_label("Verification code").fill(current_code(secret))
    page.get_by_role("button", name="Verify").click()

    expect(
        page.get_by_role("heading", name="Step 3: In case you lose access to the mobile app")
    ).to_be_visible()
    page.get_by_label("Phone number").fill("425 555 0177")
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Verification code").fill(code_from_phone(page, "+14255550177"))
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Verify").click()

    expect(
        page.get_by_role("heading", name="Step 4: Keep using your existing applications")
    ).to_be_visible()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Create app password").click()
    app_password = page.locator("#app-password").inner_text()
    assert re.fullmatch(r"[a-z]{16}", app_password)
    expect(page.get_by_role("button", name="Copy password to clipboard")).to_be_visible()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Done").click()

    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    expect(page.locator(".state")).to_have_text("Enforced")
    assert UserMfa.objects.get(user=adele).state == MfaState.ENFORCED
    look(page, "selfservice-setup")

    # Legacy clients: her app password works, her normal password no longer does.
    def legacy(secret_value: str) -> int:
        token = base64.b64encode(f"adele@contoso.test:{secret_value}".encode()).decode()
        return page.request.get("/legacy/auth", headers={"Authorization": f"Basic {token}"}).status

    assert legacy(app_password) == 200
    assert legacy(PASSWORD) == 401

    # And she manages her methods afterwards: the preferred option becomes the text message.
    page.get_by_label("Preferred option").select_option("OneWaySMS")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your changes have been saved.")).to_be_visible()
    assert UserMfa.objects.get(user=adele).default_method == "OneWaySMS"


def test_registration_by_text_message_with_the_code_from_the_phone_simulator(page: Page) -> None:
    allow(app_passwords_allowed=False)
    make_user("megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENABLED)
    password(page, "megan@contoso.test")
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Contact method").select_option("authentication_phone")
    page.get_by_label("Country or region").first.select_option("US")
    page.get_by_label("Phone number").first.fill("(425) 555-0100")
    page.get_by_label("Send me a code by text message").check()
    page.get_by_role("button", name="Contact me").click()
    expect(
        page.get_by_role("heading", name="Step 2: We've sent a text message to your phone")
    ).to_be_visible()
    page.get_by_label("Verification code").fill(code_from_phone(page, "+14255550100"))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator(".state")).to_have_text("Enforced")


def test_a_user_creates_and_deletes_an_app_password(page: Page) -> None:
    allow(app_passwords_allowed=True)
    make_user("adele@contoso.test", display_name="Adele Vance", state=MfaState.ENABLED)
    # Enabled with nothing registered: she registers by text first.
    password(page, "adele@contoso.test")
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Phone number").first.fill("425 555 0100")
    page.get_by_role("button", name="Contact me").click()
    page.get_by_label("Verification code").fill(code_from_phone(page, "+14255550100"))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("button", name="These apps won't be used with my account").click()

    page.get_by_role("link", name="app passwords").click()
    expect(
        page.get_by_text("You said that no app like these would use your account")
    ).to_be_visible()
    page.get_by_label("Name").fill("Outlook on laptop")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Your app password")).to_be_visible()
    value = page.locator("#app-password").inner_text()
    assert re.fullmatch(r"[a-z]{16}", value)
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("link", name="close").click()
    expect(page.get_by_role("columnheader", name="NAME")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Outlook on laptop"))
    expect(row).to_be_visible()
    expect(page.get_by_text(value)).to_have_count(0)
    assert_accessible(page)  # its picture: test_walkthroughs.py
    row.get_by_role("link", name=re.compile("Delete")).click()
    expect(page.get_by_role("heading", name="Delete app password")).to_be_visible()
    page.get_by_role("button", name="yes").click()
    expect(page.get_by_text("The app password Outlook on laptop has been deleted.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Outlook on laptop"))).to_have_count(0)


def test_a_registered_user_signs_in_again_with_the_challenge(page: Page) -> None:
    allow(remember_devices_allowed=True, remember_devices_days=14)
    adele = make_user(
        "adele@contoso.test", display_name="Adele Vance", state=MfaState.ENFORCED, registered=True
    )
    _method, secret = add_app(adele, mode="notification")
    password(page, "adele@contoso.test")
    expect(page.get_by_role("heading", name="Approve sign in request")).to_be_visible()
    number = page.locator(".match-number").inner_text()
    assert_accessible(page)  # its picture: test_walkthroughs.py

    # The authenticator simulator in another tab of the same browser.
    app = page.context.new_page()
    app.goto("/demo/authenticator/")
    expect(app.get_by_role("heading", name="Approve sign in request?")).to_be_visible()
    assert_accessible(app)  # its picture: test_walkthroughs.py
    app.get_by_label("Enter the number shown to sign in.").fill(number)
    app.get_by_role("button", name="Approve").click()
    # Close the tab only once the approval's answer has loaded: closing it mid-navigation
    # can hang Chromium's close (seen once in CI).
    expect(app.locator("div[role=status]")).to_be_visible()
    app.close()
    # The sign-in page notices the approval by itself (htmx polling).
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # Sign in another way: a code from the app, and don't ask again on this browser.
    password(page, "adele@contoso.test")
    page.get_by_role("link", name="Other verification options").click()
    assert_accessible(page)  # its picture: test_walkthroughs.py (other verification options)
    page.get_by_role("button", name="Use a verification code from Test phone").click()
    expect(page.get_by_role("heading", name="Enter code")).to_be_visible()
    page.get_by_label("Code").fill(current_code(secret))
    page.get_by_label("Don't ask again for 14 days").check()
    look(page, "selfservice-challenge-code")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # The remembered browser is not asked again.
    password(page, "adele@contoso.test")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
