"""The five source articles (../shared/reference/seeds/), each walked in Chromium step by step,
in its order and with its words, by visible text and ARIA roles, as a person following the
article would. Where the portal's words differ from the article's (it copies Microsoft's
later pages, or the article describes another part of Office 365), the docstring says which
word stands for which.

Every page the walks reach is checked by axe, and the end-user guide's screenshots are taken
here (``MFAPORTAL_SCREENSHOTS``, ``make screenshots``).
"""

from __future__ import annotations

import base64
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AppPassword, MfaState, ServiceSettings, UserMfa
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import htmx_settled, screenshot
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


# --- what a person does in more than one walk -------------------------------------------------


def look(page: Page, name: str = "") -> None:
    """No accessibility barrier on the page as it is; a screenshot for docs/ when named."""
    if name:
        screenshot(page, name)
    assert_accessible(page)


def allow(**settings: object) -> None:
    ServiceSettings.load()
    ServiceSettings.objects.filter(pk=1).update(**settings)


def sign_in(page: Page, upn: str, password: str = PASSWORD) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def signed_in(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def on_the_phone(page: Page, number: str) -> Page:
    """The phone simulator for this number, in another tab of the same browser."""
    phone = page.context.new_page()
    phone.goto(f"/demo/phone/?number={number.replace('+', '%2B')}")
    expect(phone.get_by_text("Simulator — local demo only")).to_be_visible()
    return phone


def code_texted_to(page: Page, number: str, name: str = "") -> str:
    phone = on_the_phone(page, number)
    body = phone.locator(".sim-text .sim-body").first.inner_text()
    if name:
        look(phone, name)
    phone.close()
    found = re.search(r"\b(\d{6})\b", body)
    assert found is not None, body
    return found.group(1)


def answer_the_call(page: Page, number: str) -> None:
    """The phone rings: answer it and press the pound key."""
    phone = on_the_phone(page, number)
    phone.get_by_role("button", name="Answer and press #").click()
    expect(phone.get_by_text("Thank you. You can hang up.")).to_be_visible()
    phone.close()


def code_mailed_to(page: Page, address: str, name: str = "") -> str:
    mailbox = page.context.new_page()
    mailbox.goto(f"/demo/mail/?address={address}")
    expect(mailbox.get_by_text("Simulator — local demo only")).to_be_visible()
    body = mailbox.locator(".sim-mail .sim-body").first.inner_text()
    if name:
        look(mailbox, name)
    mailbox.close()
    found = re.search(r"\b(\d{6})\b", body)
    assert found is not None, body
    return found.group(1)


def authenticator(page: Page) -> Page:
    """The authenticator app on the phone of whoever signs in with this browser."""
    app = page.context.new_page()
    app.goto("/demo/authenticator/")
    expect(app.get_by_role("heading", name="Authenticator simulator")).to_be_visible()
    return app


def approve_in_the_app(page: Page, number: str, name: str = "") -> None:
    """The notification: type the number the browser shows, approve, close the app."""
    app = authenticator(page)
    expect(app.get_by_role("heading", name="Approve sign in request?")).to_be_visible()
    app.get_by_label("Enter the number shown to sign in.").fill(number)
    if name:
        look(app, name)
    app.get_by_role("button", name="Approve").click()
    # Close the app only once its answer has loaded (a close mid-navigation can hang).
    expect(app.locator("div[role=status]")).to_be_visible()
    app.close()


def legacy_client(page: Page, upn: str, secret: str) -> int:
    """What Outlook, Lync or an IMAP client gets from /legacy/auth with these credentials."""
    token = base64.b64encode(f"{upn}:{secret}".encode()).decode()
    return page.request.get("/legacy/auth", headers={"Authorization": f"Basic {token}"}).status


def state_of(upn: str) -> MfaState:
    return MfaState(UserMfa.objects.get(user__user_principal_name=upn).state)


def mfa_cli(*args: str) -> str:
    out = StringIO()
    call_command("mfa", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def users_row(page: Page, upn: str):
    return page.locator("#results tbody tr").filter(has_text=upn)


def admin_enables(page: Page, upn: str, display_name: str) -> None:
    """The admin half of seeds 000 and 002: on the multi-factor authentication page, select
    the user, then Enable under quick steps, and enable multi-factor auth in the dialog."""
    page.get_by_label("Search by display name, user name or mail").fill(upn)
    expect(page.locator("#results tbody tr")).to_have_count(1)
    htmx_settled(page)
    page.get_by_role("checkbox", name=f"Select {display_name}").check()
    pane = page.locator("#pane")
    expect(pane.get_by_role("heading", name=display_name)).to_be_visible()
    expect(pane.get_by_role("heading", name="quick steps")).to_be_visible()
    pane.get_by_role("button", name="Enable", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    look(page)
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    dialog.get_by_role("button", name="close").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    # The MULTI-FACTOR AUTH STATUS changes to Enabled.
    expect(users_row(page, upn).get_by_text("Enabled", exact=True)).to_be_visible()


def no_page_inside_the_page(page: Page) -> None:
    """The bug seed 000 met: the approval poll swapped a whole page (a second header bar)
    into the card. One page has one header and one main."""
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("main")).to_have_count(1)


# --- seed 000 ------------------------------------------------------------------------------------


def test_seed_000_an_admin_enables_one_user_who_enrols_the_authenticator_app_by_notification(
    page: Page,
) -> None:
    """Seed 000 (000_2dea8e8f0dcdac22.txt), "How to Enable 2FA in the Office 365 Admin
    Portal" and "How to Enroll an Account for 2FA", step by step:

    Admin: log in with an administrator account; Users → Active users; click the user; in the
    user's pane, Manage multi-factor authentication under More settings; on the
    multi-factor authentication screen the user is selected; Enable under quick steps; enable
    multi-factor auth in *About enabling multi-factor auth*; the MULTI-FACTOR AUTH STATUS
    changes to Enabled; sign out.

    User: sign in with user name and password; Set it up now; on *Additional security
    verification* select Mobile app; Receive notifications for verification; Set up; scan the
    barcode in *Configure mobile app* (the authenticator simulator shows the account being set
    up); Finished; back on step 1, Contact me; the notification arrives in the app; Verify
    (the simulator's Approve, with the number the page shows); Close the app; a number to
    receive verification codes in case the app is lost, Next (and its texted code); the final
    step gives an app password (Create app password), copied with the copy icon; Finished
    (the page says Done, as Microsoft's does); sign in again, verifying with the app.
    """
    allow(app_passwords_allowed=True)
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("adele@contoso.test", display_name="Adele Vance")

    # --- the admin portal ---
    sign_in(page, "admin@contoso.test")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Active users").click()
    expect(page.get_by_role("heading", name="Active users", level=1)).to_be_visible()
    page.get_by_role("link", name="Adele Vance").click()
    user_pane = page.get_by_role("complementary", name="User")
    expect(user_pane.get_by_role("heading", name="More settings")).to_be_visible()
    user_pane.get_by_role("link", name="Manage multi-factor authentication").click()
    expect(page.get_by_role("heading", name="multi-factor authentication")).to_be_visible()
    expect(page.get_by_role("checkbox", name="Select Adele Vance")).to_be_checked()
    quick_steps = page.locator("#pane")
    expect(quick_steps.get_by_role("heading", name="Adele Vance")).to_be_visible()
    quick_steps.get_by_role("button", name="Enable", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    dialog.get_by_role("button", name="close").click()
    # The MULTI-FACTOR AUTH STATUS changes to Enabled.
    expect(users_row(page, "adele@contoso.test").get_by_text("Enabled", exact=True)).to_be_visible()
    assert state_of("adele@contoso.test") == MfaState.ENABLED
    sign_out(page)

    # --- the user enrols ---
    sign_in(page, "adele@contoso.test")
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    look(page, "selfservice-more-information-required")
    page.get_by_role("link", name="Set it up now").click()

    expect(page.get_by_role("heading", name="Step 1: How should we contact you?")).to_be_visible()
    page.get_by_label("Contact method").select_option(label="Mobile app")
    page.get_by_label("Receive notifications for verification").check()
    look(page, "selfservice-register-step1")
    page.get_by_role("button", name="Set up").click()

    expect(page.get_by_role("heading", name="Configure mobile app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    look(page, "selfservice-configure-mobile-app")
    # Scan Barcode: the app now holds the account, and shows its codes.
    app = authenticator(page)
    expect(app.get_by_text("Account being set up")).to_be_visible()
    app.close()
    page.get_by_role("button", name="Finished").click()

    expect(page.get_by_role("heading", name="Step 1: How should we contact you?")).to_be_visible()
    expect(
        page.get_by_text("Mobile app has been configured for notifications and verification codes.")
    ).to_be_visible()
    look(page, "selfservice-register-step1-configured")
    page.get_by_role("button", name="Contact me").click()

    expect(
        page.get_by_role("heading", name="Step 2: Approve the request in your app")
    ).to_be_visible()
    number = page.locator(".match-number").inner_text()
    look(page, "selfservice-register-approve")
    approve_in_the_app(page, number, "selfservice-authenticator-simulator")

    # The page notices the approval by itself and goes on to step 3: a page of its own.
    expect(
        page.get_by_role("heading", name="Step 3: In case you lose access to the mobile app")
    ).to_be_visible()
    no_page_inside_the_page(page)
    page.get_by_label("Phone number").fill("425 555 0177")
    page.get_by_label("Send me a code by text message").check()
    look(page, "selfservice-register-backup-phone")
    page.get_by_role("button", name="Next").click()
    expect(
        page.get_by_role("heading", name="Step 3: We've sent a text message to your phone")
    ).to_be_visible()
    page.get_by_label("Verification code").fill(code_texted_to(page, "+14255550177"))
    look(page, "selfservice-register-verify-text")
    page.get_by_role("button", name="Verify").click()

    expect(
        page.get_by_role("heading", name="Step 4: Keep using your existing applications")
    ).to_be_visible()
    look(page, "selfservice-register-app-password-choice")
    page.get_by_role("button", name="Create app password").click()
    app_password = page.locator("#app-password").inner_text()
    assert re.fullmatch(r"[a-z]{16}", app_password)
    expect(page.get_by_role("button", name="Copy password to clipboard")).to_be_visible()
    look(page, "selfservice-register-app-password")
    page.get_by_role("button", name="Done").click()
    signed_in(page)
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    # Back to the app password step: it is over; nothing is shown or created again.
    page.go_back()
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    expect(page.get_by_text(app_password)).to_have_count(0)
    assert AppPassword.objects.filter(user__user_principal_name="adele@contoso.test").count() == 1
    assert state_of("adele@contoso.test") == MfaState.ENFORCED
    assert legacy_client(page, "adele@contoso.test", app_password) == 200

    # --- prompted to sign in again, this time verifying with the app ---
    sign_out(page)
    sign_in(page, "adele@contoso.test")
    expect(page.get_by_role("heading", name="Approve sign in request")).to_be_visible()
    look(page, "selfservice-challenge-approve")
    approve_in_the_app(page, page.locator(".match-number").inner_text())
    signed_in(page)
    no_page_inside_the_page(page)


# --- seed 001 ------------------------------------------------------------------------------------


def app_code(page: Page, account: str) -> str:
    """The six digits the authenticator simulator shows for one of its accounts."""
    app = authenticator(page)
    code = app.locator(".accounts li").filter(has_text=account).locator(".totp-code")
    value = code.inner_text().strip()
    app.close()
    assert re.fullmatch(r"\d{6}", value), value
    return value


def test_seed_001_users_pick_a_mobile_phone_or_the_mobile_app_and_switch_options_at_next_logon(
    page: Page,
) -> None:
    """Seed 001 (001_3bc614fc03110a4b.txt), "Office 365 - Setup multi factor authentication",
    step by step:

    Enable Multi Factor Authentication: on the multi-factor authentication page, the View
    that shows every user (Sign-in allowed users); select one or more users; Enable, which
    appears on the right side; confirm the activation (enable multi-factor auth); multi factor
    authentication has been enabled (Updates successful); then Manage user settings after
    selecting a user account.

    User Authentication: the first browser sign-in asks to set up additional security
    settings; the choice of Mobile phone (Authentication phone), Office Phone or Mobile App;
    the mobile phone gets a text message that proves it; then web access only or also Office
    applications such as Outlook: the generate app password button (Create app password)
    generates the password for Outlook. The second user chooses the Mobile App (codes from
    the app: Use verification code) and web access only.

    Next Logon: the multi factor settings start by themselves (the text message); with more
    than one option registered, Other verification options switches (to a call, answered on
    the phone simulator). Client applications use the password the system defined.
    """
    allow(app_passwords_allowed=True)
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("alex@contoso.test", display_name="Alex Wilber")
    make_user("megan@contoso.test", display_name="Megan Bowen")

    # --- Enable Multi Factor Authentication ---
    sign_in(page, "admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_label("View:").select_option(label="Sign-in allowed users")
    expect(page.get_by_label("View:")).to_have_value("allowed")
    htmx_settled(page)  # the list is drawn again for the view
    page.get_by_role("checkbox", name="Select Alex Wilber").check()
    page.get_by_role("checkbox", name="Select Megan Bowen").check()
    pane = page.locator("#pane")
    expect(pane.get_by_role("heading", name="2 users selected")).to_be_visible()
    pane.get_by_role("button", name="Enable", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    expect(dialog.get_by_text("2 updated")).to_be_visible()
    dialog.get_by_role("button", name="close").click()
    for upn in ("alex@contoso.test", "megan@contoso.test"):
        expect(users_row(page, upn).get_by_text("Enabled", exact=True)).to_be_visible()
        assert state_of(upn) == MfaState.ENABLED

    # Manage user settings, after selecting the user account.
    page.goto("/admin/users/?q=alex")
    page.get_by_role("checkbox", name="Select Alex Wilber").check()
    page.locator("#pane").get_by_role("button", name="Manage user settings").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Manage user settings")).to_be_visible()
    for option in (
        "Require selected users to provide contact methods again",
        "Delete all existing app passwords generated by the selected users",
        "Restore multi-factor authentication on all remembered devices",
    ):
        expect(dialog.get_by_label(option)).to_be_visible()
    dialog.get_by_label("Restore multi-factor authentication on all remembered devices").check()
    look(page)
    dialog.get_by_role("button", name="save").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    dialog.get_by_role("button", name="close").click()
    assert UserMfa.objects.get(
        user__user_principal_name="alex@contoso.test"
    ).remember_devices_not_issued_before
    sign_out(page)

    # --- User Authentication: Alex chooses his mobile phone, and Outlook too ---
    sign_in(page, "alex@contoso.test")
    page.get_by_role("link", name="Set it up now").click()
    contact = page.get_by_label("Contact method")
    expect(contact.locator("option")).to_have_text(
        ["Authentication phone", "Office phone", "Security key or passkey", "Mobile app"]
    )
    contact.select_option(label="Authentication phone")
    page.get_by_label("Phone number").first.fill("425 555 0110")
    page.get_by_label("Send me a code by text message").check()
    page.get_by_role("button", name="Contact me").click()
    expect(
        page.get_by_role("heading", name="Step 2: We've sent a text message to your phone")
    ).to_be_visible()
    page.get_by_label("Verification code").fill(code_texted_to(page, "+14255550110"))
    page.get_by_role("button", name="Verify").click()
    # Web access only, or Office applications such as Outlook too: a phone-only enrolment
    # has three steps, so this is step 3.
    expect(
        page.get_by_role("heading", name="Step 3: Keep using your existing applications")
    ).to_be_visible()
    expect(page.get_by_text("Step 4")).to_have_count(0)
    page.get_by_label("Name").fill("Outlook")
    page.get_by_role("button", name="Create app password").click()
    outlook = page.locator("#app-password").inner_text()
    assert re.fullmatch(r"[a-z]{16}", outlook)
    page.get_by_role("button", name="Done").click()
    signed_in(page)
    sign_out(page)

    # --- Megan chooses the Mobile App, and web access only ---
    sign_in(page, "megan@contoso.test")
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Contact method").select_option(label="Mobile app")
    page.get_by_label("Use verification code").check()
    page.get_by_role("button", name="Set up").click()
    expect(page.get_by_role("heading", name="Configure mobile app")).to_be_visible()
    page.get_by_role("button", name="Finished").click()
    page.get_by_role("button", name="Contact me").click()
    expect(
        page.get_by_role("heading", name="Step 2: Enter the verification code from the mobile app")
    ).to_be_visible()
    page.get_by_label("Verification code").fill(app_code(page, "Account being set up"))
    look(page, "selfservice-register-verify-app-code")
    page.get_by_role("button", name="Verify").click()
    expect(
        page.get_by_role("heading", name="Step 3: In case you lose access to the mobile app")
    ).to_be_visible()
    page.get_by_label("Phone number").fill("425 555 0111")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Verification code").fill(code_texted_to(page, "+14255550111"))
    page.get_by_role("button", name="Verify").click()
    expect(
        page.get_by_role("heading", name="Step 4: Keep using your existing applications")
    ).to_be_visible()
    page.get_by_role("button", name="These apps won't be used with my account").click()
    signed_in(page)
    assert not AppPassword.objects.filter(user__user_principal_name="megan@contoso.test").exists()
    sign_out(page)

    # --- Next Logon: the text starts by itself; Other verification options switches ---
    sign_in(page, "alex@contoso.test")
    expect(page.get_by_role("heading", name="Enter code")).to_be_visible()
    expect(page.get_by_text("We texted your phone +1 XXXXXXXX10.")).to_be_visible()
    look(page, "selfservice-challenge-text")
    page.get_by_role("link", name="Other verification options").click()
    expect(page.get_by_role("button", name="Text +1 XXXXXXXX10")).to_be_visible()
    look(page, "selfservice-other-verification-options")
    page.get_by_role("button", name="Call +1 XXXXXXXX10").click()
    expect(page.get_by_role("heading", name="Answer the call")).to_be_visible()
    look(page, "selfservice-challenge-call")
    answer_the_call(page, "+14255550110")
    signed_in(page)

    # --- Client applications: the password the system defined, not his own ---
    assert legacy_client(page, "alex@contoso.test", outlook) == 200
    assert legacy_client(page, "alex@contoso.test", PASSWORD) == 401
    assert state_of("alex@contoso.test") == state_of("megan@contoso.test") == MfaState.ENFORCED


# --- seed 002 ------------------------------------------------------------------------------------


def report_rows(status: str) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader(StringIO(mfa_cli("report", "--format", "csv", "--status", status))))


def test_seed_002_notify_me_through_app_app_passwords_shown_once_and_the_powershell_lines(
    page: Page,
) -> None:
    """Seed 002 (002_c624398cf65e2e53.txt), "Multi-Factor Auth inside Office365", step by
    step:

    Admin: the multi-factor authentication page (Users and Groups → Set up); View → Sign-in
    allowed users; select the user; Enable, then Enable multi-factor auth in the popup.

    User: log in to the portal first; the additional security verification page; «Notify me
    through app» (today's words: Mobile app, Receive notifications for verification) and
    «Configure» (Set up); follow the steps and «Done» (Configure mobile app's Finished, then
    Contact me and the first request approved); asked about programs like Outlook or Lync:
    «Create» (Create app password), a name for the program, the generated password, which
    "will not be shown again" (a reload shows it no more); later, for more app passwords,
    the settings' «Update my phone numbers used for account security» opens the same
    *Additional security verification* page and its app passwords tab, where the 40-password
    limit is stated.

    PowerShell, through ``manage.py mfa``: ``Set-MsolUser -UserPrincipalName …
    -StrongAuthenticationRequirements $MultiFactorAuth`` (set-state --state Enabled UPN);
    ``Get-MsolUser -All | Set-MsolUser …`` (set-state --state Enabled --all); ``Get-MsolUser |
    Where-Object {$_.StrongAuthenticationRequirements -like "*"} | select DisplayName,
    UserPrincipalName, StrongAuthenticationMethods, StrongAuthenticationRequirements`` (report
    --status enabled and enforced); ``Set-MsolUser … -StrongAuthenticationRequirements @()``
    (set-state --state Disabled UPN).

    Then logging in to the portal shows a notification in the app to verify or cancel.
    """
    allow(app_passwords_allowed=True)
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("adele@contoso.test", display_name="Adele Vance")
    make_user("lynne@contoso.test", display_name="Lynne Robbins")
    make_user("grady@contoso.test", display_name="Grady Archie")

    # --- the admin: View → Sign-in allowed users, Enable ---
    sign_in(page, "admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_label("View:").select_option(label="Sign-in allowed users")
    htmx_settled(page)  # the list is drawn again for the view
    admin_enables(page, "adele@contoso.test", "Adele Vance")
    sign_out(page)

    # --- the user: Notify me through app → Configure → Done ---
    sign_in(page, "adele@contoso.test")
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Contact method").select_option(label="Mobile app")
    page.get_by_label("Receive notifications for verification").check()
    page.get_by_role("button", name="Set up").click()
    expect(page.get_by_role("heading", name="Configure mobile app")).to_be_visible()
    page.get_by_role("button", name="Finished").click()
    page.get_by_role("button", name="Contact me").click()
    approve_in_the_app(page, page.locator(".match-number").inner_text())
    expect(
        page.get_by_role("heading", name="Step 3: In case you lose access to the mobile app")
    ).to_be_visible()
    page.get_by_label("Phone number").fill("425 555 0120")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Verification code").fill(code_texted_to(page, "+14255550120"))
    page.get_by_role("button", name="Verify").click()

    # Programs like Outlook or Lync: Create, a name, the password shown once.
    expect(
        page.get_by_role("heading", name="Step 4: Keep using your existing applications")
    ).to_be_visible()
    page.get_by_label("Name").fill("Microsoft Outlook")
    page.get_by_role("button", name="Create").click()
    outlook = page.locator("#app-password").inner_text()
    expect(page.get_by_text("You'll see it only now.")).to_be_visible()
    page.reload()  # "This password will not be shown again"
    expect(page.get_by_text("is no longer shown")).to_be_visible()
    expect(page.get_by_text(outlook)).to_have_count(0)
    look(page, "selfservice-register-app-password-shown-once")
    page.get_by_role("button", name="Done").click()
    signed_in(page)
    assert AppPassword.objects.filter(user__user_principal_name="adele@contoso.test").count() == 1
    assert legacy_client(page, "adele@contoso.test", outlook) == 200

    # More app passwords later: the security settings, their app passwords tab.
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    page.get_by_role("link", name="app passwords").click()
    expect(page.get_by_text("You can have up to 40 app passwords")).to_be_visible()
    page.get_by_label("Name").fill("Lync")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Your app password")).to_be_visible()
    lync = page.locator("#app-password").inner_text()
    look(page, "selfservice-app-password-created")
    page.go_back()  # Back, then forward again: nothing is created twice, nothing shown twice
    page.go_forward()
    expect(
        page.get_by_text("This app password was shown once and is no longer shown.")
    ).to_be_visible()
    page.get_by_role("link", name="close").click()
    expect(page.get_by_role("row", name=re.compile("Microsoft Outlook"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Lync"))).to_be_visible()
    look(page, "selfservice-app-passwords")
    assert AppPassword.objects.filter(user__user_principal_name="adele@contoso.test").count() == 2
    assert legacy_client(page, "adele@contoso.test", lync) == 200
    sign_out(page)

    # --- the PowerShell lines, through manage.py mfa ---
    mfa_cli("set-state", "--state", "Enabled", "lynne@contoso.test")  # Set-MsolUser, one user
    assert state_of("lynne@contoso.test") == MfaState.ENABLED
    listed = report_rows("enabled") + report_rows("enforced")  # Where-Object {… -like "*"}
    assert {row["UserPrincipalName"]: row["MfaState"] for row in listed} == {
        "adele@contoso.test": "Enforced",
        "lynne@contoso.test": "Enabled",
    }
    adele = next(row for row in listed if row["UserPrincipalName"] == "adele@contoso.test")
    assert adele["DisplayName"] == "Adele Vance" and "PhoneAppNotification" in adele["Methods"]
    mfa_cli("set-state", "--state", "Disabled", "lynne@contoso.test")  # … @()
    assert state_of("lynne@contoso.test") == MfaState.DISABLED
    mfa_cli("set-state", "--state", "Enabled", "--all")  # Get-MsolUser -All | Set-MsolUser
    assert state_of("grady@contoso.test") == state_of("lynne@contoso.test") == MfaState.ENABLED
    assert state_of("adele@contoso.test") == MfaState.ENFORCED  # registered: Enforced stays

    # --- logging in to the portal: the notification, to verify or cancel ---
    sign_in(page, "adele@contoso.test")
    expect(page.get_by_role("heading", name="Approve sign in request")).to_be_visible()
    app = authenticator(page)
    expect(app.get_by_role("button", name="Approve")).to_be_visible()
    expect(app.get_by_role("button", name="Deny")).to_be_visible()
    app.close()
    approve_in_the_app(page, page.locator(".match-number").inner_text())
    signed_in(page)


# --- seed 003 ------------------------------------------------------------------------------------

TEMPORARY = "Tmp-Welcome-2017"
CHOSEN = "Lidias-Own-Passphrase-7"
HOME = "lidia.home@example.net"
LONDON = "+442079460018"


@pytest.fixture
def mail_outbox(settings) -> None:
    # pytest-django routes mail to its in-memory outbox; the simulator reads the portal's own.
    settings.EMAIL_BACKEND = "mfaportal.mfa.mail.OutboxEmailBackend"


def test_seed_003_a_new_user_registers_then_updates_the_temporary_password_then_recovery(
    page: Page, mail_outbox: None
) -> None:
    """Seed 003 (003_2cfed5a033f5bc0b.txt), "Enrol Accounts for Office 365 Multi-Factor
    Authentication", steps 1 to 20 in their order:

    1 log in with user name and (temporary) password, Sign in; 2 Set it up now; 3 two drop-down
    boxes, the method and the location (Contact method, Country or region); 4 Authentication
    phone, the country picked, the number, Send me a code by text message, Contact me; 5 Step
    2 says the text went to the number with its country code; 6 the text arrives; 7 the code,
    Verify; 8 an app password for apps such as Apple Mail (Create app password), Done; 9 a new
    user with a temporary password updates it: Current password, New password, Confirm
    password; 10 Update password and sign in; 11 self-service password recovery asks for more
    (*Don't lose access to your account!*, reached directly: no separate Next); 12
    Authentication email, Set it up now; 13 an address outside the tenant's domains (one of
    its own is refused), email me; 14 the code arrives by mail; 15 the code, verify; 16 the
    Authentication phone: Verify; 17 the number from step 4, text me; 18 the text arrives; 19
    the code, Verify; 20 two forms of verification set up: finish.
    """
    allow(
        app_passwords_allowed=True, password_reset_enabled=True, password_reset_methods_required=2
    )
    lidia = make_user("lidia@contoso.test", display_name="Lidia Holloway", state=MfaState.ENABLED)
    lidia.set_password(TEMPORARY)
    lidia.password_must_change = True
    lidia.save()

    # 1-2
    sign_in(page, "lidia@contoso.test", TEMPORARY)
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_role("link", name="Set it up now").click()
    # 3-4
    method = page.get_by_label("Contact method")
    location = page.get_by_label("Country or region").first
    expect(method).to_be_visible()
    expect(location).to_be_visible()
    method.select_option(label="Authentication phone")
    location.select_option(label="United Kingdom (+44)")
    page.get_by_label("Phone number").first.fill("020 7946 0018")
    page.get_by_label("Send me a code by text message").check()
    page.get_by_role("button", name="Contact me").click()
    # 5-7
    expect(
        page.get_by_role("heading", name="Step 2: We've sent a text message to your phone")
    ).to_be_visible()
    expect(page.get_by_text("We've sent a code to +44 20 7946 0018.")).to_be_visible()
    page.get_by_label("Verification code").fill(code_texted_to(page, LONDON))
    page.get_by_role("button", name="Verify").click()
    # 8
    expect(
        page.get_by_role("heading", name="Step 3: Keep using your existing applications")
    ).to_be_visible()
    page.get_by_label("Name").fill("Apple Mail")
    page.get_by_role("button", name="Create app password").click()
    apple_mail = page.locator("#app-password").inner_text()
    page.get_by_role("button", name="Done").click()
    # 9-10
    expect(page.get_by_role("heading", name="Update your password")).to_be_visible()
    page.goto("/mfa/setup/")  # nothing else opens before it
    expect(page.get_by_role("heading", name="Update your password")).to_be_visible()
    page.get_by_label("Current password", exact=True).fill(TEMPORARY)
    page.get_by_label("New password", exact=True).fill(CHOSEN)
    page.get_by_label("Confirm password", exact=True).fill(CHOSEN)
    look(page, "recovery-update-password")
    page.get_by_role("button", name="Update password and sign in").click()
    # 11-12
    expect(page.get_by_role("heading", name="Don't lose access to your account!")).to_be_visible()
    expect(page.get_by_text("is set to +44 20 7946 0018.")).to_be_visible()
    look(page, "recovery-dont-lose-access")
    page.get_by_role("link", name="Set it up now (authentication email)").click()
    # 13-15
    page.get_by_label("Authentication email").fill("lidia@contoso.test")
    page.get_by_role("button", name="email me").click()
    expect(page.get_by_text("Use an address outside your organization")).to_be_visible()
    page.get_by_label("Authentication email").fill(HOME)
    look(page, "recovery-authentication-email")
    page.get_by_role("button", name="email me").click()
    expect(page.get_by_text(f"containing a verification code to {HOME}")).to_be_visible()
    page.get_by_label("Verification code").fill(
        code_mailed_to(page, HOME, "recovery-mail-simulator")
    )
    look(page, "recovery-authentication-email-code")
    page.get_by_role("button", name="verify").click()
    expect(page.get_by_text("Your authentication email has been verified.")).to_be_visible()
    # 16-19
    page.get_by_role("link", name="Verify authentication phone").click()
    expect(page.get_by_label("Phone number")).to_have_value("020 7946 0018")
    look(page, "recovery-authentication-phone")
    page.get_by_role("button", name="text me").click()
    page.get_by_label("Verification code").fill(code_texted_to(page, LONDON))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Your phone number has been verified.")).to_be_visible()
    # 20
    expect(page.get_by_text(f"is set to {HOME}.")).to_be_visible()
    look(page, "recovery-dont-lose-access-done")
    page.get_by_role("button", name="finish").click()
    expect(page.get_by_text("You're set up to reset your own password.")).to_be_visible()
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    look(page, "recovery-setup")

    lidia = DirectoryUser.objects.get(pk=lidia.pk)
    assert lidia.check_password(CHOSEN) and not lidia.password_must_change
    assert state_of("lidia@contoso.test") == MfaState.ENFORCED
    assert legacy_client(page, "lidia@contoso.test", apple_mail) == 200
    assert legacy_client(page, "lidia@contoso.test", CHOSEN) == 401


# --- seed 004 ------------------------------------------------------------------------------------


def test_seed_004_enabled_then_enforced_web_only_then_two_app_passwords_for_lync(
    page: Page,
) -> None:
    """Seed 004 (004_9cd6957aee17177a.txt), "Office 365 - Multi Factor Authentication
    support", part 1 (admin) then part 2 (the user's side), in order:

    Part 1: the admin enables the user, and can give the user a link to manage the MFA
    options (the Enable dialog shows it). Enabled lets the user register; Enforced, the
    second step, makes MFA compulsory and leaves non-browser clients to app passwords.

    Part 2: while Enabled and not registered, the password still works everywhere (the
    legacy client, ``/legacy/auth``); at the browser sign-in it asks to set up MFA; Mobile
    phone (Authentication phone) and SMS, Next (Contact me), the SMS code; next step: the
    password works only in the browser (1) and other applications (2) need App Passwords (3)
    or the agreement that they will not be used (4) — the user agrees (These apps won't be
    used with my account): nothing created, Enforced now, the password refused by the legacy
    client. To generate App Passwords the user signs in again, MFAuthenticated via SMS; the
    app passwords tab remembers the earlier choice; a name, the password generated and shown
    once, twice over; both work in the same client (the author's complaint). ``get-msoluser``
    (``manage.py mfa get-user --json``): StrongAuthenticationMethods OneWaySMS default and
    TwoWayVoiceMobile; StrongAuthenticationRequirements RelyingParty *, State Enforced.
    """
    allow(app_passwords_allowed=True)
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("patti@contoso.test", display_name="Patti Fernandez")

    # --- part 1: the admin enables her, with the link to send her ---
    sign_in(page, "admin@contoso.test")
    page.goto("/admin/users/?q=patti")
    page.get_by_role("checkbox", name="Select Patti Fernandez").check()
    page.locator("#pane").get_by_role("button", name="Enable", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("link", name=re.compile(r"mfa.setup.$"))).to_be_visible()
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    dialog.get_by_role("button", name="close").click()
    sign_out(page)

    # --- Enabled, nothing registered: the password still works in the legacy client ---
    assert state_of("patti@contoso.test") == MfaState.ENABLED
    assert legacy_client(page, "patti@contoso.test", PASSWORD) == 200

    # --- the browser asks her to set it up: Mobile phone and SMS ---
    sign_in(page, "patti@contoso.test")
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Contact method").select_option(label="Authentication phone")
    page.get_by_label("Phone number").first.fill("425 555 0140")
    page.get_by_label("Send me a code by text message").check()
    page.get_by_role("button", name="Contact me").click()
    page.get_by_label("Verification code").fill(code_texted_to(page, "+14255550140"))
    page.get_by_role("button", name="Verify").click()

    # (1) the password works only in the browser; (2) other apps; (3) or (4).
    expect(
        page.get_by_role("heading", name="Step 3: Keep using your existing applications")
    ).to_be_visible()
    expect(page.get_by_text("your password works only in a web browser")).to_be_visible()
    expect(page.get_by_role("button", name="Create app password")).to_be_visible()
    page.get_by_role("button", name="These apps won't be used with my account").click()
    signed_in(page)
    assert state_of("patti@contoso.test") == MfaState.ENFORCED
    assert not AppPassword.objects.filter(user__user_principal_name="patti@contoso.test").exists()
    # Enforced: the legacy client no longer takes her password.
    assert legacy_client(page, "patti@contoso.test", PASSWORD) == 401
    sign_out(page)

    # --- to generate App Passwords: signed in again, MFAuthenticated via SMS ---
    sign_in(page, "patti@contoso.test")
    expect(page.get_by_role("heading", name="Enter code")).to_be_visible()
    page.get_by_label("Code").fill(code_texted_to(page, "+14255550140"))
    page.get_by_role("button", name="Verify").click()
    signed_in(page)
    page.get_by_role("link", name="app passwords").click()
    expect(
        page.get_by_text("You said that no app like these would use your account")
    ).to_be_visible()
    look(page, "selfservice-app-passwords-declined")
    lync = []
    for name in ("Lync", "Lync on the laptop"):
        page.get_by_label("Name").fill(name)
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading", name="Your app password")).to_be_visible()
        lync.append(page.locator("#app-password").inner_text())
        page.get_by_role("link", name="close").click()
    expect(page.get_by_text("You said that no app like these")).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("Lync on the laptop"))).to_be_visible()

    # Both work, in the same client.
    assert [legacy_client(page, "patti@contoso.test", value) for value in lync] == [200, 200]
    assert legacy_client(page, "patti@contoso.test", PASSWORD) == 401

    # get-msoluser … | select strongauthenticationmethods, strongauthenticationrequirements
    patti = json.loads(mfa_cli("get-user", "patti@contoso.test", "--json"))
    assert patti["strongAuthenticationMethods"] == [
        {"methodType": "OneWaySMS", "isDefault": True},
        {"methodType": "TwoWayVoiceMobile", "isDefault": False},
    ]
    assert patti["strongAuthenticationRequirements"] == [
        {"relyingParty": "*", "state": "Enforced", "rememberDevicesNotIssuedBefore": None}
    ]
    assert patti["mfaState"] == "Enforced" and patti["appPasswords"] == 2
