"""The users tab in Chromium: filter, search, select, quick steps and their dialogs."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Page, expect

from mfaportal.admin_portal import jobs
from mfaportal.admin_portal.jobs import runner
from mfaportal.admin_portal.models import BulkJob
from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AppPassword, MfaState, UserMfa
from tests.admin_portal.axe import assert_accessible
from tests.admin_portal.conftest import bulk_users
from tests.e2e.conftest import htmx_settled, screenshot
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def state_of(upn: str) -> MfaState:
    return MfaState(UserMfa.objects.get(user__user_principal_name=upn).state)


def row(page: Page, upn: str):
    return page.locator("#results tbody tr").filter(has_text=upn)


@pytest.fixture
def tenant() -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("adele@contoso.test", display_name="Adele Vance")
    make_user("alex@contoso.test", display_name="Alex Wilber", state=MfaState.ENABLED)
    make_user("allan@contoso.test", display_name="Allan Deyoung", state=MfaState.ENABLED)
    make_user("diego@contoso.test", display_name="Diego Siciliani", state=MfaState.ENFORCED)
    make_user("zoe@contoso.test", display_name='Zoë <Ops> & "Sec"')
    make_user("nolicence@contoso.test", display_name="Nestor Wilke", is_licensed=False)


def test_admin_filters_searches_and_enables_a_user_through_the_dialog(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/")
    expect(page.get_by_role("heading", name="multi-factor authentication")).to_be_visible()
    expect(page.get_by_role("cell", name='Zoë <Ops> & "Sec"', exact=True)).to_be_visible()
    screenshot(page, "admin-users")
    assert_accessible(page)

    page.get_by_label("Multi-Factor Auth status:").select_option("disabled")
    expect(row(page, "alex@contoso.test")).to_have_count(0)
    page.get_by_label("Search by display name, user name or mail").fill("ad")
    expect(page.locator("#results tbody tr")).to_have_count(2)  # Adele, and admin@ by user name
    # The URL keeps the filter: bookmarkable, and the back button returns to it.
    expect(page).to_have_url(re.compile(r"status=disabled.*q=ad|q=ad.*status=disabled"))

    row(page, "adele@contoso.test").get_by_role("checkbox").check()
    pane = page.locator("#pane")
    expect(pane.get_by_role("heading", name="Adele Vance")).to_be_visible()
    expect(pane.get_by_text("adele@contoso.test")).to_be_visible()
    expect(pane.get_by_role("button", name="Enable", exact=True)).to_be_visible()
    expect(pane.get_by_role("button", name="Enforce")).to_have_count(0)
    screenshot(page, "admin-users-selected")

    pane.get_by_role("button", name="Enable", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    expect(dialog.get_by_role("link", name="/mfa/setup/")).to_be_visible()
    screenshot(page, "admin-dialog-enable")
    assert_accessible(page)
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    expect(dialog.get_by_text("1 updated")).to_be_visible()
    screenshot(page, "admin-updates-successful")
    dialog.get_by_role("button", name="close").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert state_of("adele@contoso.test") == MfaState.ENABLED
    # The list behind the dialog now shows it (Adele is no longer Disabled).
    expect(row(page, "adele@contoso.test")).to_have_count(0)

    # Back goes to the previous filter, with the filter boxes showing it.
    page.go_back()
    expect(page).to_have_url(re.compile(r"status=disabled"))
    expect(page.get_by_label("Multi-Factor Auth status:")).to_have_value("disabled")
    expect(page.get_by_label("Search by display name, user name or mail")).to_have_value("")
    page.go_back()
    expect(page.get_by_label("Multi-Factor Auth status:")).to_have_value("any")
    expect(page.get_by_role("cell", name="Alex Wilber", exact=True)).to_be_visible()


def test_admin_multi_selects_and_enforces(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?status=enabled")
    row(page, "alex@contoso.test").get_by_role("checkbox").check()
    row(page, "allan@contoso.test").get_by_role("checkbox").check()
    pane = page.locator("#pane")
    expect(pane.get_by_role("heading", name="2 users selected")).to_be_visible()
    pane.get_by_role("button", name="Enforce").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enforcing multi-factor auth")).to_be_visible()
    expect(dialog.get_by_text("2 of the selected users have not registered yet")).to_be_visible()
    screenshot(page, "admin-dialog-enforce")
    dialog.get_by_role("button", name="enforce multi-factor auth").click()
    expect(dialog.get_by_text("2 updated")).to_be_visible()
    dialog.get_by_role("button", name="close").click()
    assert state_of("alex@contoso.test") == MfaState.ENFORCED
    assert state_of("allan@contoso.test") == MfaState.ENFORCED
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.get_by_text("There are no users to display.")).to_be_visible()


def test_keyboard_only_admin_selects_a_row_and_opens_a_quick_step(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=diego")
    htmx_settled(page)
    page.get_by_role("checkbox", name="Select Diego Siciliani").focus()
    page.keyboard.press("Space")
    disable = page.locator("#pane").get_by_role("button", name="Disable")
    expect(disable).to_be_visible()
    htmx_settled(page)
    disable.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(
        dialog.get_by_role("heading", name="Disable multi-factor authentication?")
    ).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert state_of("diego@contoso.test") == MfaState.ENFORCED


def test_unlicensed_user_gets_no_enable_and_the_pane_says_why(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=nestor")
    row(page, "nolicence@contoso.test").get_by_role("checkbox").check()
    pane = page.locator("#pane")
    expect(pane.get_by_text("Nestor Wilke has no licence")).to_be_visible()
    expect(pane.get_by_role("button", name="Enable", exact=True)).to_have_count(0)
    expect(pane.get_by_role("button", name="Manage user settings")).to_be_visible()


def test_admin_manages_user_settings(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    diego = DirectoryUser.objects.get(user_principal_name="diego@contoso.test")
    AppPassword.objects.create(user=diego, name="Outlook", digest="d" * 64)
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=diego")
    row(page, "diego@contoso.test").get_by_role("checkbox").check()
    page.locator("#pane").get_by_role("button", name="Manage user settings").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Manage user settings")).to_be_visible()
    dialog.get_by_role("button", name="save").click()
    expect(dialog.get_by_role("alert")).to_have_text("Choose at least one setting to apply.")
    dialog.get_by_label("Delete all existing app passwords generated by the selected users").check()
    dialog.get_by_label("Restore multi-factor authentication on all remembered devices").check()
    screenshot(page, "admin-dialog-manage-user-settings")
    assert_accessible(page)
    dialog.get_by_role("button", name="save").click()
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    assert not AppPassword.objects.filter(user=diego).exists()
    assert UserMfa.objects.get(user=diego).remember_devices_not_issued_before is not None


def test_select_all_matching_runs_in_the_background_with_a_progress_bar(
    page: Page, sign_in: Callable[..., None], tenant: None, monkeypatch
) -> None:
    bulk_users(120, prefix="wave")
    # Hold the job back so the test can watch it progress, as a busy worker would.
    queued: list[BulkJob] = []
    monkeypatch.setattr(runner, "INLINE_LIMIT", 50)
    monkeypatch.setattr(runner, "CHUNK", 20)
    monkeypatch.setattr(runner, "SET_BASED_CHUNK", 20)
    monkeypatch.setattr(runner, "job_enqueue", queued.append)
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=wave")
    page.get_by_role("checkbox", name="Select all users on this page").check()
    banner = page.locator("#select-all-banner")
    expect(
        banner.get_by_role("button", name="Select all 120 users that match this view")
    ).to_be_visible()
    banner.get_by_role("button", name="Select all 120 users that match this view").click()
    pane = page.locator("#pane")
    expect(pane.get_by_role("heading", name="120 users selected")).to_be_visible()
    expect(banner.get_by_text("All users that match this view are selected.")).to_be_visible()
    screenshot(page, "admin-select-all-matching")
    pane.get_by_role("button", name="Enable", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("all 120 users that match this view")).to_be_visible()
    dialog.get_by_role("button", name="enable multi-factor auth").click()
    expect(dialog.get_by_role("heading", name="Updating…")).to_be_visible()
    expect(dialog.locator("progress")).to_have_attribute("value", "0")
    assert len(queued) == 1

    # The worker applies two chunks, then pauses: the bar moves in place.
    pause, resume = threading.Event(), threading.Event()
    done_chunks: list[int] = []

    def after_chunk(job: BulkJob) -> None:
        done_chunks.append(1)
        if len(done_chunks) == 2:
            pause.set()
            resume.wait(20)

    worker = threading.Thread(
        target=jobs.job_run, args=(queued[0].pk,), kwargs={"progress": after_chunk}
    )
    worker.start()
    assert pause.wait(20)
    expect(dialog.locator("progress")).to_have_attribute("value", "40")
    expect(dialog.get_by_text("40 of 120 done")).to_be_visible()
    screenshot(page, "admin-job-progress")
    # The admin closes the dialog and keeps working; the job is listed on the page.
    dialog.get_by_role("button", name="close").click()
    expect(
        page.locator("#recent-jobs").get_by_role(
            "link", name="Enable multi-factor auth for 120 users"
        )
    ).to_be_visible()
    resume.set()
    worker.join(30)
    expect(page.locator("#recent-jobs").get_by_text("Finished")).to_be_visible(timeout=15_000)
    page.locator("#recent-jobs").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    expect(page.get_by_text("120 updated")).to_be_visible()
    assert set(
        UserMfa.objects.filter(user__user_principal_name__startswith="wave").values_list(
            "state", flat=True
        )
    ) == {MfaState.ENABLED}


def test_without_javascript_the_list_still_filters_and_pages(
    browser, live_server, tenant: None
) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/signin/")
    page.get_by_label("User name").fill("admin@contoso.test")
    page.get_by_label("Password").fill("Correct-Horse-9")
    page.get_by_role("button", name="Sign in").click()
    page.goto("/admin/users/")
    page.get_by_label("Multi-Factor Auth status:").select_option("enforced")
    page.get_by_role("button", name="search").click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(row(page, "diego@contoso.test")).to_be_visible()
    # Quick steps work as plain forms too.
    row(page, "diego@contoso.test").get_by_role("checkbox").check()
    page.get_by_role("button", name="quick steps for the selected users").click()
    page.get_by_role("button", name="Disable").click()
    page.get_by_role("button", name="yes").click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    assert state_of("diego@contoso.test") == MfaState.DISABLED
    context.close()


def test_a_quick_step_opened_as_its_own_page_can_be_confirmed_with_javascript_on(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    """A step page (bookmarked, or opened from the no-JavaScript pane in a new tab) posts as
    a plain form: it has no dialog for an htmx answer to land in."""
    diego = DirectoryUser.objects.get(user_principal_name="diego@contoso.test")
    sign_in("admin@contoso.test")
    page.goto(f"/admin/users/steps/disable/?u={diego.pk}")
    page.get_by_role("button", name="yes").click()
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    assert state_of("diego@contoso.test") == MfaState.DISABLED


def repeated_parameters(url: str) -> list[str]:
    names = [name for name, _value in parse_qsl(urlsplit(url).query, keep_blank_values=True)]
    return sorted({name for name in names if names.count(name) > 1})


def test_sorting_and_paging_keep_each_filter_in_the_address_once(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    bulk_users(30, prefix="sorter")
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=sorter&size=25")
    row(page, "sorter00000@contoso.test").get_by_role("checkbox").check()
    htmx_settled(page)
    page.get_by_role("link", name="USER NAME").click()
    expect(page).to_have_url(re.compile(r"sort=user_principal_name"))
    htmx_settled(page)
    assert repeated_parameters(page.url) == [], page.url
    page.get_by_role("link", name="DISPLAY NAME").click()
    expect(page).to_have_url(re.compile(r"sort=display_name"))
    htmx_settled(page)
    assert repeated_parameters(page.url) == [], page.url
    page.locator("#page-next").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    htmx_settled(page)
    assert repeated_parameters(page.url) == [], page.url
    expect(page.locator("#results tbody tr")).to_have_count(5)
