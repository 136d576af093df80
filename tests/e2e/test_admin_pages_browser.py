"""bulk update, service settings, user detail and the audit log in Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mfaportal.core import roles
from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AppPassword, MfaState, ServiceSettings, UserMfa
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import screenshot
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant() -> None:
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
    make_user("chris@contoso.test", display_name="Chris Green")
    make_user("ben@contoso.test", display_name="Ben Walters", state=MfaState.ENABLED)


def state_of(upn: str) -> MfaState:
    return MfaState(UserMfa.objects.get(user__user_principal_name=upn).state)


def test_admin_runs_a_bulk_update_from_a_file(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_role("link", name="bulk update").click()
    expect(page.get_by_role("heading", name="bulk update")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Select a CSV file").set_input_files(
        {
            "name": "users.csv",
            "mimeType": "text/csv",
            "buffer": (
                b"Username,MFA Status\n"
                b"chris@contoso.test,Enforced\n"
                b"ben@contoso.test,disabled\n"
                b"ghost@contoso.test,Enabled\n"
                b"chris@contoso.test,Enabled\n"
                b"ben@contoso.test,Maybe\n"
            ),
        }
    )
    screenshot(page, "admin-bulk-update")
    page.get_by_role("button", name="verify").click()
    expect(page.get_by_text("2 rows are ready to update.")).to_be_visible()
    expect(page.get_by_text("3 lines have problems and will not be applied.")).to_be_visible()
    errors = page.get_by_role("table", name="Lines that will not be applied")
    expect(errors.get_by_role("row")).to_have_count(4)
    expect(errors.get_by_text("User does not exist in this directory.")).to_be_visible()
    expect(errors.get_by_text("Duplicate: this user is already on line 2.")).to_be_visible()
    screenshot(page, "admin-bulk-verify")
    assert_accessible(page)
    # Verifying changed nothing.
    assert state_of("chris@contoso.test") == MfaState.DISABLED
    page.get_by_role("button", name="update 2 users").click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    expect(page.get_by_text("2 updated")).to_be_visible()
    expect(page.get_by_text("3 lines of the file were not applied")).to_be_visible()
    screenshot(page, "admin-bulk-results")
    assert state_of("chris@contoso.test") == MfaState.ENFORCED
    assert state_of("ben@contoso.test") == MfaState.DISABLED
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the results (CSV)").click()
    lines = Path(download_info.value.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Line,Username,Requested,Result,Detail"
    assert len(lines) == 6


def test_admin_pages_through_the_bad_lines_of_a_large_bulk_file(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/bulk-update/")
    lines = "".join(f"ghost{number}@contoso.test,Enabled\n" for number in range(150))
    page.get_by_label("Select a CSV file").set_input_files(
        {
            "name": "users.csv",
            "mimeType": "text/csv",
            "buffer": f"Username,MFA Status\n{lines}".encode(),
        }
    )
    page.get_by_role("button", name="verify").click()
    expect(page.get_by_text("150 lines have problems and will not be applied.")).to_be_visible()
    errors = page.get_by_role("table", name="Lines that will not be applied")
    expect(errors.get_by_role("row")).to_have_count(101)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    # Nothing can apply, so nothing is offered and no results file is promised.
    expect(page.get_by_role("button", name="update")).to_have_count(0)
    assert_accessible(page)
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    expect(errors.get_by_role("row")).to_have_count(51)
    expect(errors.get_by_role("cell", name="151", exact=True)).to_be_visible()
    assert_accessible(page)


def test_admin_saves_service_settings_after_fixing_what_is_marked(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_role("link", name="service settings").click()
    expect(page.get_by_role("group", name="verification options")).to_be_visible()
    assert_accessible(page)
    page.get_by_label(
        "Allow users to create app passwords to sign in to non-browser apps", exact=True
    ).check()
    page.get_by_label(
        "Skip multi-factor authentication for requests from following range of IP address subnets"
    ).fill("192.168.1.0/27\n10.1.2.3/8\n2001:db8::/48\nintranet")
    page.get_by_label(
        "Allow users to remember multi-factor authentication on devices they trust"
    ).check()
    page.get_by_label("Number of days users can trust devices for").fill("400")
    page.get_by_role("button", name="save").click()
    expect(page.get_by_role("alert")).to_contain_text("The settings were not saved.")
    expect(
        page.get_by_text('Line 2: "10.1.2.3/8" has bits set after the prefix length.')
    ).to_be_visible()
    expect(page.get_by_text('Line 4: "intranet" is not an IPv4 or IPv6 range')).to_be_visible()
    expect(page.get_by_text("Enter a number of days from 1 to 365.")).to_be_visible()
    screenshot(page, "admin-service-settings-errors")
    assert ServiceSettings.load().remember_devices_days == 14
    page.get_by_label(
        "Skip multi-factor authentication for requests from following range of IP address subnets"
    ).fill("192.168.1.0/27\n10.0.0.0/8\n2001:db8::/48")
    page.get_by_label("Number of days users can trust devices for").fill("30")
    page.get_by_label("Text message to phone").uncheck()
    page.get_by_role("button", name="save").click()
    expect(page.get_by_role("status")).to_have_text("Updates successful")
    screenshot(page, "admin-service-settings")
    saved = ServiceSettings.load()
    assert saved.app_passwords_allowed
    assert saved.remember_devices_allowed
    assert saved.remember_devices_days == 30
    assert not saved.method_text
    assert saved.trusted_ip_ranges == "192.168.1.0/27\n10.0.0.0/8\n2001:db8::/48"


def test_helpdesk_looks_up_a_user_and_revokes_their_sessions(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    chris = DirectoryUser.objects.get(user_principal_name="chris@contoso.test")
    make_user(
        "megan@contoso.test",
        display_name="Megan Bowen",
        state=MfaState.ENFORCED,
        registered=True,
    )
    megan = DirectoryUser.objects.get(user_principal_name="megan@contoso.test")
    AppPassword.objects.create(user=megan, name="Outlook desktop", digest="e" * 64)
    audit_record(
        ChangeContext(actor=chris, source=AuditSource.PAGE),
        AuditEntry.about(megan, "mfa.state", before="Enabled", after="Enforced"),
    )
    sign_in("helpdesk@contoso.test")
    page.goto("/admin/users/")
    # Service settings read-only; bulk update changes MFA state, which is not theirs.
    expect(page.get_by_role("link", name="service settings")).to_have_count(1)
    expect(page.get_by_role("link", name="bulk update")).to_have_count(0)
    page.get_by_label("Search by display name, user name or mail").fill("meg")
    page.get_by_role("link", name="Megan Bowen").click()
    expect(page.get_by_role("heading", name="StrongAuthenticationMethods")).to_be_visible()
    expect(page.get_by_role("cell", name="OneWaySMS")).to_be_visible()
    expect(page.get_by_role("cell", name="Outlook desktop")).to_be_visible()
    history = page.get_by_role(
        "cell", name="Multi-factor auth status changed from Enabled to Enforced."
    )
    expect(history).to_be_visible()
    screenshot(page, "admin-user-detail")
    assert_accessible(page)
    page.get_by_role("button", name="revoke sessions").click()
    expect(page.get_by_role("status")).to_contain_text("is signed out of every session")
    megan.refresh_from_db()
    assert megan.session_version == 1
    # The helpdesk may not change the admin.
    page.goto("/admin/users/?q=mod")
    page.get_by_role("link", name="MOD Administrator").click()
    expect(
        page.get_by_text("Authentication administrators can't change their sign-in methods")
    ).to_be_visible()
    expect(page.get_by_role("button", name="revoke sessions")).to_have_count(0)


def test_admin_filters_the_audit_log(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    admin = DirectoryUser.objects.get(user_principal_name="admin@contoso.test")
    chris = DirectoryUser.objects.get(user_principal_name="chris@contoso.test")
    ben = DirectoryUser.objects.get(user_principal_name="ben@contoso.test")
    context = ChangeContext(actor=admin, source=AuditSource.PAGE, ip_address="192.0.2.10")
    audit_record(context, AuditEntry.about(chris, "mfa.state", before="Disabled", after="Enabled"))
    audit_record(context, AuditEntry.about(ben, "mfa.app_passwords_deleted", before="2", after="0"))
    sign_in("admin@contoso.test")
    page.goto("/admin/users/")
    page.get_by_role("link", name="audit log").click()
    expect(page.get_by_role("cell", name="chris@contoso.test")).to_be_visible()
    page.get_by_label("User").fill("ben@contoso.test")
    page.get_by_role("button", name="search").click()
    expect(page.get_by_role("cell", name="chris@contoso.test")).to_have_count(0)
    expect(page.get_by_role("cell", name="2 app passwords deleted.")).to_be_visible()
    screenshot(page, "admin-audit-log")
    assert_accessible(page)
