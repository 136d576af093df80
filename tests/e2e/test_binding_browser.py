"""App passwords bound to an application (issue 16.4) in Chromium: the admin requires a
binding, Adele creates a Mail app password at registration and another on the App passwords
page, sees what each is for, her mail app signs in with it and her calendar app doesn't,
and the list then shows the last use. The helpdesk sees the same on her detail page."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.mfa.models import AppPassword, MfaState, ServiceSettings
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import code_from_phone, look
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def legacy(page: Page, secret: str, service: str) -> int:
    token = base64.b64encode(f"adele@contoso.test:{secret}".encode()).decode()
    return page.request.get(
        "/legacy/auth", headers={"Authorization": f"Basic {token}", "X-MFA-Service": service}
    ).status


def test_an_admin_requires_binding_and_adele_uses_a_mail_app_password_for_mail_only(
    page: Page, sign_in: Callable[..., None]
) -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user(
        "helpdesk@contoso.test",
        display_name="Helpdesk Agent",
        admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
    )
    adele = make_user("adele@contoso.test", display_name="Adele Vance", state=MfaState.ENABLED)

    # The admin allows app passwords and requires each new one to name its application.
    sign_in("admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_role("link", name="service settings").click()
    page.get_by_label(
        "Allow users to create app passwords to sign in to non-browser apps", exact=True
    ).check()
    page.get_by_label(
        "Require users to choose the application each new app password is for"
    ).check()
    expect(
        page.get_by_text("keep working in every application until they are deleted")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="save").click()
    expect(page.get_by_role("status")).to_have_text("Updates successful")
    assert ServiceSettings.load().app_password_binding_required
    page.get_by_role("button", name="Sign out").click()

    # Adele registers by text; at "Keep using your existing applications" she makes one for mail.
    page.goto("/signin/")
    page.get_by_label("User name").fill("adele@contoso.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Set it up now").click()
    page.get_by_label("Phone number").first.fill("425 555 0100")
    page.get_by_role("button", name="Contact me").click()
    page.get_by_label("Verification code").fill(code_from_phone(page, "+14255550100"))
    page.get_by_role("button", name="Verify").click()
    expect(
        page.get_by_role("heading", name=re.compile("Keep using your existing applications"))
    ).to_be_visible()
    page.get_by_label("Name").fill("Phone mail")
    what_for = page.get_by_label("What is it for?")
    expect(what_for.locator("option").first).to_have_text("Choose one")
    look(page, "selfservice-register-app-password-bound")
    what_for.select_option(label="Mail (IMAP/POP/SMTP)")
    page.get_by_role("button", name="Create app password").click()
    mail_password = page.locator("#app-password").inner_text()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # On the App passwords page she makes a second one and must say what it is for.
    page.get_by_role("link", name="app passwords").click()
    page.get_by_label("Name").fill("Tablet calendar")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("your administrator requires it")
    page.get_by_label("What is it for?").select_option(label="Calendar and contacts")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Your app password")).to_be_visible()
    page.get_by_role("link", name="close").click()
    expect(page.get_by_role("row", name=re.compile("Phone mail"))).to_contain_text(
        "Mail (IMAP/POP/SMTP)"
    )
    expect(page.get_by_role("row", name=re.compile("Tablet calendar"))).to_contain_text(
        "Calendar and contacts"
    )

    # Her mail app signs in with it; her calendar app, given the same password, doesn't.
    assert legacy(page, mail_password, "mail") == 200
    assert legacy(page, mail_password, "calendar") == 403
    page.reload()
    row = page.get_by_role("row", name=re.compile("Phone mail"))
    expect(row).to_contain_text(re.compile(r"Mail \(IMAP/POP/SMTP\), from (127\.0\.0\.1|::1)"))
    look(page, "selfservice-app-passwords-bound")
    assert sorted(AppPassword.objects.values_list("service", flat=True)) == ["calendar", "mail"]

    # The helpdesk sees the same on her detail page.
    page.get_by_role("button", name="Sign out").click()
    sign_in("helpdesk@contoso.test")
    page.goto(reverse("admin_portal:user_detail", args=[adele.object_id]))
    section = page.get_by_role("region", name="app passwords")
    expect(section.get_by_role("row", name=re.compile("Phone mail"))).to_contain_text(
        "Mail (IMAP/POP/SMTP), from"
    )
    expect(section.get_by_role("row", name=re.compile("Tablet calendar"))).to_contain_text(
        "Calendar and contacts"
    )
    assert_accessible(page)
