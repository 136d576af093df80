"""Passkeys and security keys in Chromium, with its virtual authenticator (CDP's WebAuthn
domain through Playwright's CDP session): a person adds one, makes it the default and signs
in with it; a key deleted meanwhile is refused; a new user registers one at enrolment. Each
new page is checked with axe (its tour is declared as the accessibility tours are).

WebAuthn needs a secure context and a domain as the relying party: the browser goes to the
live server as ``localhost``, never 127.0.0.1 (an IP address is no relying party id).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from mfaportal.core import roles
from mfaportal.mfa.models import MethodType, MfaState, PasskeyCredential, UserMfa
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import screenshot
from tests.e2e.test_every_page_accessible import Check, signed_in_as, tour
from tests.factories import PASSWORD, make_user
from tests.mfa.soft_authenticator import SoftAuthenticator, with_passkey


@pytest.fixture
def context(browser: Browser, live_server: Any, settings: Any) -> Iterator[BrowserContext]:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    base_url = live_server.url.replace("127.0.0.1", "localhost")
    context = browser.new_context(base_url=base_url, locale="en-US")
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def check(context: BrowserContext) -> Check:
    """axe on each page, as the accessibility tours check theirs."""
    return Check(context, lang="en")


def virtual_authenticator(context: BrowserContext, page: Page) -> CDPSession:
    """A platform authenticator that keeps passkeys and verifies the user (as a fingerprint
    reader would), answering every request without a dialog."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp


def sign_in_with_password(page: Page, upn: str) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@tour(
    "selfservice:setup",
    "selfservice:reauthenticate",
    "selfservice:passkey_new",
    "signin_flow:verify",
)
def test_a_person_adds_a_passkey_and_signs_in_with_it(
    page: Page, check: Check, context: BrowserContext, live_server: Any
) -> None:
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    virtual_authenticator(context, page)
    signed_in_as(context, live_server, megan)

    page.goto("/mfa/setup/")
    expect(page.get_by_text("No security key or passkey is set up.")).to_be_visible()
    check(page)
    page.get_by_role("button", name="Add security key or passkey").click()
    expect(page.get_by_role("heading", name="Enter your password")).to_be_visible()
    check(page)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Add a security key or passkey")).to_be_visible()
    check(page)
    page.get_by_label("Name (optional)").fill("My laptop")
    page.get_by_role("button", name="Register security key or passkey").click()

    expect(page.get_by_text("Your security key or passkey has been registered.")).to_be_visible()
    passkeys = page.get_by_role("table", name="Your security keys and passkeys")
    expect(passkeys.get_by_role("cell", name="My laptop", exact=True)).to_be_visible()
    check(page)  # the list, with its rename and delete controls
    credential = PasskeyCredential.objects.get(method__user=megan)
    assert credential.attestation_object  # the attestation, kept as received

    page.get_by_label("Preferred option").select_option(label="Use a passkey or security key")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Your changes have been saved.")).to_be_visible()
    screenshot(page, "passkeys-setup")
    page.get_by_role("button", name="Sign out").click()

    sign_in_with_password(page, "megan@contoso.test")
    expect(
        page.get_by_role("heading", name="Sign in with your security key or passkey")
    ).to_be_visible()
    check(page)
    screenshot(page, "passkeys-signin")
    page.get_by_role("button", name="Use my security key or passkey").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    credential.refresh_from_db()
    assert credential.last_used_at is not None


def test_a_passkey_deleted_meanwhile_is_refused(
    page: Page, browser: Browser, context: BrowserContext, live_server: Any
) -> None:
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    virtual_authenticator(context, page)
    signed_in_as(context, live_server, megan)
    page.goto("/mfa/setup/")
    page.get_by_role("button", name="Add security key or passkey").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Register security key or passkey").click()
    expect(page.get_by_text("Your security key or passkey has been registered.")).to_be_visible()
    UserMfa.objects.filter(user=megan).update(default_method=MethodType.PASSKEY)
    page.get_by_role("button", name="Sign out").click()

    sign_in_with_password(page, "megan@contoso.test")
    expect(page.get_by_role("button", name="Use my security key or passkey")).to_be_visible()

    # Meanwhile, in another browser, Megan deletes the passkey (she lost the laptop).
    other = browser.new_context(base_url=context.pages[0].url.split("/signin")[0])
    elsewhere = other.new_page()
    signed_in_as(other, live_server, megan)
    elsewhere.goto("/mfa/setup/")
    passkeys = elsewhere.get_by_role("table", name="Your security keys and passkeys")
    passkeys.get_by_role("button", name="Delete").click()
    elsewhere.get_by_label("Password").fill(PASSWORD)
    elsewhere.get_by_role("button", name="Continue").click()
    expect(elsewhere.get_by_text("The method has been deleted.")).to_be_visible()
    # Closing a tab mid-navigation can hang Playwright: let the page settle first.
    elsewhere.wait_for_load_state()
    other.close()

    page.get_by_role("button", name="Use my security key or passkey").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "That security key or passkey isn't registered for your account."
    )
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


@tour("signin_flow:register", "signin_flow:register_passkey")
def test_a_new_user_registers_a_passkey_at_enrolment(
    page: Page, check: Check, context: BrowserContext
) -> None:
    make_user("adele@contoso.test", display_name="Adele Vance", state=MfaState.ENABLED)
    virtual_authenticator(context, page)
    sign_in_with_password(page, "adele@contoso.test")
    page.get_by_role("link", name="Set it up now").click()
    check(page)
    page.get_by_label("Contact method").select_option(label="Security key or passkey")
    page.get_by_role("button", name="Set up security key or passkey").click()
    expect(page.get_by_role("heading", name="Step 1: Security key or passkey")).to_be_visible()
    check(page)
    screenshot(page, "passkeys-enrolment")
    page.get_by_role("button", name="Register security key or passkey").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert UserMfa.objects.get(user__user_principal_name="adele@contoso.test").state == (
        MfaState.ENFORCED
    )


def test_the_helpdesk_deletes_a_lost_passkey_from_the_user_page(
    page: Page, context: BrowserContext, live_server: Any
) -> None:
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    with_passkey(megan, SoftAuthenticator())
    megan.methods.filter(kind="passkey").update(device_name="Megan's YubiKey")
    helpdesk = make_user(
        "helpdesk@contoso.test",
        display_name="Helpdesk Agent",
        admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
    )
    signed_in_as(context, live_server, helpdesk)
    page.goto(f"/admin/users/{megan.object_id}/")
    delete = page.get_by_role("button", name="Delete Megan's YubiKey")
    expect(delete).to_be_visible()
    assert_accessible(page)
    screenshot(page, "passkeys-helpdesk")
    delete.click()
    expect(
        page.get_by_text("the security key or passkey of Megan Bowen is deleted")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Delete Megan's YubiKey")).to_have_count(0)


def test_register_waits_for_the_pages_script_so_an_early_press_posts_nothing(
    page: Page, context: BrowserContext, live_server: Any
) -> None:
    """Pressed before the page's script is ready, the form would post no answer and the
    person would read "could not be read": the button waits for the script instead."""
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    virtual_authenticator(context, page)
    signed_in_as(context, live_server, megan)
    script = re.compile(r".*/js/passkeys[^/]*\.js$")
    page.route(script, lambda route: route.abort())  # a script that never comes
    page.goto("/mfa/setup/")
    page.get_by_role("button", name="Add security key or passkey").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    register = page.get_by_role("button", name="Register security key or passkey")
    expect(register).to_be_disabled()
    page.unroute(script)
    page.reload()
    register.click()
    expect(page.get_by_text("Your security key or passkey has been registered.")).to_be_visible()
    assert PasskeyCredential.objects.filter(method__user=megan).count() == 1
