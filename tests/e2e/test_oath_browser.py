"""Hardware OATH tokens in Chromium (issue 16.3), as people use them: an admin uploads the
vendor's token file, the person the token is for activates it with a code it shows, and then
signs in with a code from it. The codes are computed from the token's key with pyotp, as the
token itself would. Each new page is checked with axe and screenshotted for docs/."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import mfa_state_set
from tests.e2e.conftest import look
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "6PJ4UKIW33NNXYZAEHQNFUFTZF7WFTFB"
TOKEN_FILE = (
    "upn,serial number,secret key,time interval,manufacturer,model\n"
    f"adele@contoso.test,1234567,{SECRET},30,Contoso,Token 1000\n"
    f"ghost@contoso.test,7654321,{SECRET},30,Contoso,Token 1000\n"
).encode()


def sign_in(page: Page, upn: str) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("User name")).to_be_visible()


def test_an_uploaded_token_is_activated_by_its_owner_and_then_signs_her_in(page: Page) -> None:
    make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    adele = make_user("adele@contoso.test", display_name="Adele Vance")

    # The admin uploads the vendor's file: one token for Adele, one line refused.
    sign_in(page, "admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_role("link", name="hardware tokens").click()
    expect(page.get_by_role("heading", name="hardware OATH tokens")).to_be_visible()
    page.get_by_label("Select a CSV file").set_input_files(
        {"name": "tokens.csv", "mimeType": "text/csv", "buffer": TOKEN_FILE}
    )
    page.get_by_role("button", name="upload").click()
    expect(page.get_by_text("1 hardware token uploaded.").first).to_be_visible()
    expect(page.get_by_role("cell", name="User does not exist in this directory.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="1234567")
    expect(row.get_by_role("cell", name="Assigned", exact=True)).to_be_visible()
    expect(row.get_by_role("link", name="adele@contoso.test")).to_be_visible()
    look(page, "admin-hardware-tokens")
    sign_out(page)

    # Adele activates it on Additional security verification with the code it shows.
    sign_in(page, "adele@contoso.test")
    page.goto("/mfa/setup/")
    expect(page.get_by_role("heading", name="Activate your hardware token")).to_be_visible()
    look(page, "selfservice-hardware-token-activate")
    code_field = page.get_by_label("Code from Contoso Token 1000 (1234567)")
    code_field.fill("000000")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("That code isn't right. Check it and try again.")).to_be_visible()
    page.get_by_label("Code from Contoso Token 1000 (1234567)").fill(pyotp.TOTP(SECRET).now())
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Your hardware token is activated.")).to_be_visible()
    expect(
        page.get_by_role("cell", name="Contoso Token 1000 (1234567)", exact=True)
    ).to_be_visible()
    sign_out(page)

    # MFA is enforced for her; she signs in with a later code from the token.
    mfa_state_set(
        users=DirectoryUser.objects.filter(pk=adele.pk),
        state=MfaState.ENFORCED,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    sign_in(page, "adele@contoso.test")
    expect(
        page.get_by_text("Press the button on your hardware token and enter the code it displays.")
    ).to_be_visible()
    look(page, "signin-hardware-token-code")
    page.get_by_label("Code").fill(pyotp.TOTP(SECRET).at(time.time() + 30))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
