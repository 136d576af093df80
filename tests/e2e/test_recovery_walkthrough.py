"""Account recovery in Chromium (DESIGN §5.7), as the enrolment walkthroughs show it.

A helpdesk agent gives a new hire a temporary password; the new hire signs in with it,
registers for MFA by text, takes an app password, updates the password (seed 003's order),
registers an authentication email with the code read off /demo/mail/, and finishes. Later she has forgotten her password and resets it alone with
the email code and a text code. Every new page is screenshotted for docs/ and checked by axe.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AuthenticationEmail, MfaState, ServiceSettings, UserMfa
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+14255550142"
HOME = "megan.home@example.net"
CHOSEN = "Megans-Own-Passphrase-8"
AFTER_RESET = "Remembered-Again-Later-5"


@pytest.fixture(autouse=True)
def mail_outbox(settings) -> None:
    # pytest-django routes mail to its in-memory outbox; the simulator reads the portal's own.
    settings.EMAIL_BACKEND = "mfaportal.mfa.mail.OutboxEmailBackend"


def look(page: Page, name: str) -> None:
    screenshot(page, name)
    assert_accessible(page)


def password(page: Page, upn: str, secret: str) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def code_from(page: Page, url: str, selector: str, name: str = "") -> str:
    """Read the newest code off a simulator, in another tab of the same browser."""
    other = page.context.new_page()
    other.goto(url)
    expect(other.get_by_text("Simulator — local demo only")).to_be_visible()
    body = other.locator(selector).first.inner_text()
    if name:
        look(other, name)
    other.close()
    found = re.search(r"\b(\d{6})\b", body)
    assert found is not None, body
    return found.group(1)


def code_from_mail(page: Page, address: str, name: str = "") -> str:
    return code_from(page, f"/demo/mail/?address={address}", ".sim-mail .sim-body", name)


def code_from_phone(page: Page, number: str) -> str:
    return code_from(
        page, f"/demo/phone/?number={number.replace('+', '%2B')}", ".sim-text .sim-body"
    )


def test_a_new_hire_enrols_from_a_temporary_password_and_later_resets_it_alone(
    page: Page,
) -> None:
    ServiceSettings.load()
    ServiceSettings.objects.filter(pk=1).update(
        app_passwords_allowed=True, password_reset_enabled=True, password_reset_methods_required=2
    )
    make_user(
        "helpdesk@contoso.test",
        display_name="Helpdesk Agent",
        admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
    )
    megan = make_user("megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENABLED)

    # --- the helpdesk agent sets a temporary password from the user detail page -------------
    password(page, "helpdesk@contoso.test", PASSWORD)
    page.goto(f"/admin/users/{megan.object_id}/")
    expect(page.get_by_role("heading", name="password reset")).to_be_visible()
    look(page, "recovery-admin-user-detail")
    page.get_by_role("link", name="reset password").click()
    expect(page.get_by_role("heading", name="Reset password?")).to_be_visible()
    page.get_by_role("button", name="reset password").click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    temporary = page.locator("#temporary-password").inner_text()
    assert re.fullmatch(r"[A-Za-z2-9]{4}(-[A-Za-z2-9]{4}){3}", temporary)
    look(page, "recovery-admin-temporary-password")
    page.get_by_role("button", name="Sign out").click()

    # --- first sign-in: MFA registration, the authentication phone by text -------------------
    password(page, "megan@contoso.test", temporary)
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Contact method").select_option("authentication_phone")
    page.get_by_label("Phone number").first.fill("425 555 0142")
    page.get_by_label("Send me a code by text message").check()
    page.get_by_role("button", name="Contact me").click()
    page.get_by_label("Verification code").fill(code_from_phone(page, PHONE))
    page.get_by_role("button", name="Verify").click()

    # --- the app password, then Update your password before anything else ----------------
    expect(
        page.get_by_role("heading", name="Step 3: Keep using your existing applications")
    ).to_be_visible()
    page.get_by_role("button", name="Create app password").click()
    expect(page.locator("#app-password")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="Update your password")).to_be_visible()
    page.goto("/mfa/setup/")  # nothing else opens
    expect(page.get_by_role("heading", name="Update your password")).to_be_visible()
    page.goto("/demo/mail/")
    expect(page.get_by_role("heading", name="Update your password")).to_be_visible()
    page.get_by_label("Current password", exact=True).fill(temporary)
    page.get_by_label("New password", exact=True).fill(temporary)
    page.get_by_label("Confirm password", exact=True).fill(temporary)
    page.get_by_role("button", name="Update password and sign in").click()
    expect(page.get_by_text("it can't be the same as the current one")).to_be_visible()
    page.get_by_label("Current password", exact=True).fill(temporary)
    page.get_by_label("New password", exact=True).fill(CHOSEN)
    page.get_by_label("Confirm password", exact=True).fill(CHOSEN)
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="Update password and sign in").click()

    # --- Don't lose access to your account! -------------------------------------------------
    expect(page.get_by_role("heading", name="Don't lose access to your account!")).to_be_visible()
    expect(page.get_by_text("is set to +1 425-555-0142.")).to_be_visible()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="finish").click()
    expect(page.get_by_role("alert")).to_contain_text("Set up at least 2 of the options below")
    page.get_by_role("link", name="Set it up now (authentication email)").click()
    page.get_by_label("Authentication email").fill("megan@contoso.test")
    page.get_by_role("button", name="email me").click()
    expect(page.get_by_text("Use an address outside your organization")).to_be_visible()
    page.get_by_label("Authentication email").fill(HOME)
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="email me").click()
    expect(page.get_by_text(f"containing a verification code to {HOME}")).to_be_visible()
    page.get_by_label("Verification code").fill(code_from_mail(page, HOME))
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="verify").click()
    expect(page.get_by_text("Your authentication email has been verified.")).to_be_visible()
    expect(page.get_by_text(f"is set to {HOME}.")).to_be_visible()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    page.get_by_role("button", name="finish").click()

    # --- then she is in ------------------------------------------------------------------------
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    expect(page.get_by_text("You can reset your own password if you forget it.")).to_be_visible()
    assert_accessible(page)  # its picture: test_walkthroughs.py
    megan.refresh_from_db()
    assert megan.check_password(CHOSEN) and not megan.password_must_change
    assert UserMfa.objects.get(user=megan).state == MfaState.ENFORCED
    assert AuthenticationEmail.objects.get(user=megan).address == HOME
    page.get_by_role("button", name="Sign out").click()

    # --- later: Forgot my password ---------------------------------------------------------------
    page.goto("/signin/")
    page.get_by_role("link", name="Forgot my password").click()
    expect(page.get_by_role("heading", name="Who are you?")).to_be_visible()
    page.get_by_label("User name").fill("megan@contoso.test")
    look(page, "recovery-forgot-who-are-you")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="verification step 1")).to_be_visible()
    page.get_by_label("Email my authentication email").check()
    expect(page.get_by_label("Your complete authentication phone number")).to_be_hidden()
    page.get_by_label("Your complete authentication email address").fill(HOME)
    look(page, "recovery-forgot-step-1")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text(f"If {HOME} is the authentication email registered")).to_be_visible()
    page.get_by_label("Enter your verification code").fill(code_from_mail(page, HOME))
    look(page, "recovery-forgot-code")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="verification step 2")).to_be_visible()
    page.get_by_label("Text my authentication phone").check()
    page.get_by_label("Your complete authentication phone number").fill("425 555 0142")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Enter your verification code").fill(code_from_phone(page, PHONE))
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(AFTER_RESET)
    page.get_by_label("Confirm password", exact=True).fill(AFTER_RESET)
    look(page, "recovery-forgot-new-password")
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_role("heading", name="Your password has been reset")).to_be_visible()
    look(page, "recovery-forgot-done")

    # She signs in with the new password (and her phone, as ever).
    page.get_by_role("link", name="Sign in with your new password").click()
    password(page, "megan@contoso.test", AFTER_RESET)
    page.get_by_label("Code").fill(code_from_phone(page, PHONE))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    megan = DirectoryUser.objects.get(pk=megan.pk)
    assert megan.check_password(AFTER_RESET)
    assert AuditEvent.objects.filter(
        target=megan, action="directory.password_reset", after="self-service password reset"
    ).exists()


def test_an_admin_turns_on_self_service_password_reset(page: Page) -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    password(page, "admin@contoso.test", PASSWORD)
    page.goto("/admin/settings/")
    page.get_by_label(
        "Allow users to reset their own password (self-service password reset)"
    ).check()
    page.get_by_label("Number of methods required to reset").select_option("1")
    look(page, "recovery-admin-service-settings")
    page.get_by_role("button", name="save").click()
    expect(page.get_by_text("Updates successful")).to_be_visible()
    service = ServiceSettings.load()
    assert service.password_reset_enabled and service.password_reset_methods_required == 1
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Forgot my password")).to_be_visible()
