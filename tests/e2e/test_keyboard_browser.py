"""Keyboard-only use in Chromium (issue 6): the quick steps and their dialogs on the users
page and on a user's detail page, the selection and paging controls, the registration
wizard to its end, and the self-service pages. After the set-up (users, sign-in) the part
under test is driven with key presses alone; dialogs take the focus, keep Tab inside
themselves and give the focus back to what opened them, or to the pane when a change has
redrawn it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from mfaportal.admin_portal import jobs
from mfaportal.admin_portal.jobs import runner
from mfaportal.admin_portal.models import BulkJob
from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import totp
from mfaportal.mfa.models import AppPassword, MfaState, ServiceSettings, UserMfa
from mfaportal.mfa.models import VerificationMethod as Method
from tests.admin_portal.conftest import bulk_users
from tests.e2e.conftest import code_from_phone, htmx_settled, tab_to
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import add_app

pytestmark = pytest.mark.django_db(transaction=True)

IN_OPEN_DIALOG = (
    "() => !!document.activeElement && !!document.activeElement.closest('dialog[open]')"
)
FOCUSED = (
    "() => { const e = document.activeElement;"
    " return e ? `${e.tagName} ${(e.textContent || '').trim().slice(0, 40)}` : 'nothing'; }"
)


def state_of(upn: str) -> MfaState:
    return MfaState(UserMfa.objects.get(user__user_principal_name=upn).state)


def allow(**fields: object) -> None:
    ServiceSettings.load()
    ServiceSettings.objects.filter(pk=1).update(**fields)


def press_enter_on(page: Page, target: Locator) -> None:
    """Tab to a control (once the page's htmx swaps are done) and press Enter on it."""
    htmx_settled(page)
    tab_to(page, target)
    page.keyboard.press("Enter")


def select_row(page: Page, name: str) -> None:
    box = page.get_by_role("checkbox", name=f"Select {name}")
    htmx_settled(page)
    tab_to(page, box)
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    expect(page.locator("#pane .pane-name")).to_have_text(name)
    htmx_settled(page)


def open_step(page: Page, step: str, heading: str) -> Locator:
    """Open a quick step of the pane by keyboard; the dialog has the focus."""
    press_enter_on(page, quick_step(page, step))
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=heading)).to_be_visible()
    expect(dialog.locator(":focus")).to_have_count(1)
    return dialog


def quick_step(page: Page, step: str) -> Locator:
    return page.locator("#pane").get_by_role("button", name=step, exact=True)


def assert_tab_stays_in_dialog(page: Page, presses: int = 12) -> None:
    """Tab and Shift+Tab, many times round: the focus never leaves the open dialog."""
    htmx_settled(page)
    for key in ["Tab"] * presses + ["Shift+Tab"] * presses:
        page.keyboard.press(key)
        assert page.evaluate(IN_OPEN_DIALOG), f"{key} left the dialog: {page.evaluate(FOCUSED)}"


def confirm_and_close(page: Page, dialog: Locator, button: str, done: str) -> None:
    """Confirm the dialog by keyboard, read the outcome, close it with Enter."""
    press_enter_on(page, dialog.get_by_role("button", name=button, exact=True))
    expect(dialog.get_by_role("heading", name="Updates successful")).to_be_visible()
    expect(dialog.get_by_text(done)).to_be_visible()
    close = dialog.get_by_role("button", name="close")
    expect(close).to_be_focused()
    assert_tab_stays_in_dialog(page, presses=4)
    tab_to(page, close)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()


@pytest.fixture
def tenant() -> None:
    make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )
    make_user("adele@contoso.test", display_name="Adele Vance")
    make_user("alex@contoso.test", display_name="Alex Wilber", state=MfaState.ENABLED)
    make_user(
        "diego@contoso.test",
        display_name="Diego Siciliani",
        state=MfaState.ENFORCED,
        registered=True,
    )


# --- the users page ----------------------------------------------------------------------


def test_enforce_by_keyboard_keeps_tab_in_the_dialog_and_returns_focus_to_the_pane(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=alex")
    select_row(page, "Alex Wilber")

    dialog = open_step(page, "Enforce", "About enforcing multi-factor auth")
    assert_tab_stays_in_dialog(page)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(quick_step(page, "Enforce")).to_be_focused()
    assert state_of("alex@contoso.test") == MfaState.ENABLED

    dialog = open_step(page, "Enforce", "About enforcing multi-factor auth")
    confirm_and_close(page, dialog, "enforce multi-factor auth", "1 updated")
    assert state_of("alex@contoso.test") == MfaState.ENFORCED
    # Enforce is no longer offered for Alex: the focus goes to the pane's first quick step.
    expect(quick_step(page, "Enforce")).to_have_count(0)
    expect(quick_step(page, "Disable")).to_be_focused()


def test_active_users_by_keyboard_opens_the_pane_then_enables_the_user_on_the_mfa_page(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    """Seed 000's way in, with keys only: search Active users, open the user's pane (the
    focus moves into it), *Manage multi-factor authentication*, then Enable."""
    sign_in("admin@contoso.test")
    page.goto("/admin/active-users/")
    search = page.get_by_label("Search by display name, user name or mail")
    htmx_settled(page)
    tab_to(page, search)
    page.keyboard.type("adele")
    expect(page.locator("#active-results tbody tr")).to_have_count(1)
    expect(search).to_be_focused()

    press_enter_on(page, page.get_by_role("link", name="Adele Vance"))
    pane = page.get_by_role("complementary", name="User")
    expect(pane.get_by_role("heading", name="Adele Vance")).to_be_focused()
    expect(page.get_by_role("link", name="Adele Vance")).to_have_attribute("aria-current", "true")
    page.keyboard.press("Tab")
    manage = pane.get_by_role("link", name="Manage multi-factor authentication")
    expect(manage).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/admin/users/\?"))
    expect(page.get_by_role("checkbox", name="Select Adele Vance")).to_be_checked()
    expect(page.locator("#pane .pane-name")).to_have_text("Adele Vance")
    dialog = open_step(page, "Enable", "About enabling multi-factor auth")
    assert_tab_stays_in_dialog(page)
    confirm_and_close(page, dialog, "enable multi-factor auth", "1 updated")
    assert state_of("adele@contoso.test") == MfaState.ENABLED
    expect(quick_step(page, "Enforce")).to_be_focused()


def test_disable_by_keyboard_answers_no_then_yes(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=diego")
    select_row(page, "Diego Siciliani")

    dialog = open_step(page, "Disable", "Disable multi-factor authentication?")
    assert_tab_stays_in_dialog(page)
    press_enter_on(page, dialog.get_by_role("button", name="no"))
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(quick_step(page, "Disable")).to_be_focused()
    assert state_of("diego@contoso.test") == MfaState.ENFORCED

    dialog = open_step(page, "Disable", "Disable multi-factor authentication?")
    confirm_and_close(page, dialog, "yes", "1 updated")
    assert state_of("diego@contoso.test") == MfaState.DISABLED
    expect(quick_step(page, "Enable")).to_be_focused()
    # The registered methods are kept.
    assert Method.objects.filter(user__user_principal_name="diego@contoso.test").exists()


def test_manage_user_settings_by_keyboard_ticks_options_and_saves(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    diego = DirectoryUser.objects.get(user_principal_name="diego@contoso.test")
    AppPassword.objects.create(user=diego, name="Outlook", digest="d" * 64)
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=diego")
    select_row(page, "Diego Siciliani")

    dialog = open_step(page, "Manage user settings", "Manage user settings")
    reregister = dialog.get_by_label("Require selected users to provide contact methods again")
    expect(reregister).to_be_focused()
    assert_tab_stays_in_dialog(page)
    page.keyboard.press("Escape")
    expect(quick_step(page, "Manage user settings")).to_be_focused()

    # Saving with nothing ticked says so and keeps the focus in the dialog.
    dialog = open_step(page, "Manage user settings", "Manage user settings")
    press_enter_on(page, dialog.get_by_role("button", name="save"))
    expect(dialog.get_by_role("alert")).to_have_text("Choose at least one setting to apply.")
    expect(reregister).to_be_focused()
    delete = dialog.get_by_label(
        "Delete all existing app passwords generated by the selected users"
    )
    tab_to(page, delete)
    page.keyboard.press("Space")
    expect(delete).to_be_checked()
    confirm_and_close(page, dialog, "save", "1 updated")
    assert not AppPassword.objects.filter(user=diego).exists()
    assert state_of("diego@contoso.test") == MfaState.ENFORCED
    expect(quick_step(page, "Manage user settings")).to_be_focused()


def test_select_all_and_clear_selection_by_keyboard(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    bulk_users(30, prefix="wave")
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=wave&size=25")
    htmx_settled(page)
    page_box = page.get_by_role("checkbox", name="Select all users on this page")
    tab_to(page, page_box)
    page.keyboard.press("Space")
    expect(page.locator("#results tbody input[type=checkbox]:checked")).to_have_count(25)
    pane = page.locator("#pane")
    expect(pane.get_by_role("heading", name="25 users selected")).to_be_visible()
    select_all = page.get_by_role("button", name="Select all 30 users that match this view")
    expect(select_all).to_be_visible()

    press_enter_on(page, select_all)
    expect(pane.get_by_role("heading", name="30 users selected")).to_be_visible()
    # The button hid itself: the focus moved on to the banner's next control.
    clear = page.get_by_role("button", name="Clear selection")
    expect(clear).to_be_focused()
    htmx_settled(page)
    page.keyboard.press("Enter")
    expect(pane.get_by_text("Select one or more users to see the quick steps.")).to_be_visible()
    expect(page.locator("#results tbody input[type=checkbox]:checked")).to_have_count(0)
    expect(page_box).to_be_focused()

    # A bulk step for every match, by keyboard.
    page.keyboard.press("Space")
    press_enter_on(page, select_all)
    expect(pane.get_by_role("heading", name="30 users selected")).to_be_visible()
    dialog = open_step(page, "Enable", "About enabling multi-factor auth")
    expect(dialog.get_by_text("all 30 users that match this view")).to_be_visible()
    confirm_and_close(page, dialog, "enable multi-factor auth", "30 updated")
    assert set(
        UserMfa.objects.filter(user__user_principal_name__startswith="wave").values_list(
            "state", flat=True
        )
    ) == {MfaState.ENABLED}
    expect(pane.locator(":focus")).to_have_count(1)


def test_background_update_dialog_keeps_the_focus_while_its_progress_refreshes(
    page: Page, sign_in: Callable[..., None], tenant: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk_users(30, prefix="wave")
    # The update goes to the background worker, which is held back: the dialog polls.
    queued: list[BulkJob] = []
    monkeypatch.setattr(runner, "INLINE_LIMIT", 10)
    monkeypatch.setattr(runner, "job_enqueue", queued.append)
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=wave&size=25")
    htmx_settled(page)
    tab_to(page, page.get_by_role("checkbox", name="Select all users on this page"))
    page.keyboard.press("Space")
    press_enter_on(
        page, page.get_by_role("button", name="Select all 30 users that match this view")
    )
    expect(page.locator("#pane").get_by_role("heading", name="30 users selected")).to_be_visible()
    dialog = open_step(page, "Enable", "About enabling multi-factor auth")
    press_enter_on(page, dialog.get_by_role("button", name="enable multi-factor auth"))
    expect(dialog.get_by_role("heading", name="Updating…")).to_be_visible()
    close = dialog.get_by_role("button", name="close")
    expect(close).to_be_focused()

    # Each refresh of the progress replaces the button: the focus stays on it.
    for _ in range(2):
        with page.expect_response(lambda response: "polling=1" in response.url):
            pass
        htmx_settled(page)
        expect(close).to_be_focused()
    assert_tab_stays_in_dialog(page, presses=4)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(quick_step(page, "Enable")).to_be_focused()

    assert len(queued) == 1
    jobs.job_run(queued[0].pk)
    assert set(
        UserMfa.objects.filter(user__user_principal_name__startswith="wave").values_list(
            "state", flat=True
        )
    ) == {MfaState.ENABLED}
    expect(page.locator("#recent-jobs").get_by_text("Finished")).to_be_visible(timeout=15_000)


def test_search_paging_sorting_and_page_size_by_keyboard_keep_the_focus(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    bulk_users(30, prefix="wave")
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?size=25")
    htmx_settled(page)
    search = page.get_by_label("Search by display name, user name or mail")
    tab_to(page, search)
    page.keyboard.type("wave")
    expect(page).to_have_url(re.compile(r"q=wave"))
    expect(page.locator("#results tbody tr").first).to_contain_text("wave00000@contoso.test")
    expect(search).to_be_focused()

    press_enter_on(page, page.get_by_role("link", name="Next"))
    expect(page.locator(".page-number")).to_have_text("Page 2")
    expect(page.locator("#results tbody tr")).to_have_count(5)
    # The last page has no "Next": the focus stays in the pager rather than falling out.
    expect(page.get_by_role("navigation", name="Pages").locator(":focus")).to_have_count(1)
    htmx_settled(page)
    page.keyboard.press("Enter")
    expect(page.locator(".page-number")).to_have_text("Page 1")
    expect(page.get_by_role("navigation", name="Pages").locator(":focus")).to_have_count(1)

    by_user_name = page.get_by_role("link", name="USER NAME")
    press_enter_on(page, by_user_name)
    expect(page.get_by_role("columnheader", name="USER NAME")).to_have_attribute(
        "aria-sort", "ascending"
    )
    expect(by_user_name).to_be_focused()
    htmx_settled(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("columnheader", name="USER NAME")).to_have_attribute(
        "aria-sort", "descending"
    )
    expect(page.locator("#results tbody tr").first).to_contain_text("wave00029@contoso.test")
    expect(by_user_name).to_be_focused()

    size = page.get_by_label("Users per page")
    htmx_settled(page)
    tab_to(page, size)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#results tbody tr")).to_have_count(30)
    expect(size).to_have_value("50")
    expect(size).to_be_focused()


# --- the user detail page ----------------------------------------------------------------


def test_detail_page_quick_step_by_keyboard_gives_focus_back_after_the_page_refreshes(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    alex = DirectoryUser.objects.get(user_principal_name="alex@contoso.test")
    sign_in("admin@contoso.test")
    page.goto(f"/admin/users/{alex.object_id}/")
    expect(page.locator("#identity-title")).to_have_text("Alex Wilber")

    dialog = open_step(page, "Enforce", "About enforcing multi-factor auth")
    assert_tab_stays_in_dialog(page)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(quick_step(page, "Enforce")).to_be_focused()

    dialog = open_step(page, "Enforce", "About enforcing multi-factor auth")
    confirm_and_close(page, dialog, "enforce multi-factor auth", "1 updated")
    # The page reloads to show the new state, and the focus comes back to the pane.
    expect(page.locator(".facts .state")).to_have_text("Enforced")
    expect(quick_step(page, "Disable")).to_be_focused()
    assert state_of("alex@contoso.test") == MfaState.ENFORCED

    dialog = open_step(page, "Disable", "Disable multi-factor authentication?")
    press_enter_on(page, dialog.get_by_role("button", name="no"))
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(quick_step(page, "Disable")).to_be_focused()

    dialog = open_step(page, "Disable", "Disable multi-factor authentication?")
    confirm_and_close(page, dialog, "yes", "1 updated")
    expect(page.locator(".facts .state")).to_have_text("Disabled")
    expect(quick_step(page, "Enable")).to_be_focused()
    assert state_of("alex@contoso.test") == MfaState.DISABLED


def test_detail_page_forms_by_keyboard_revoke_unblock_manage_and_reset_password(
    page: Page, sign_in: Callable[..., None], tenant: None
) -> None:
    diego = DirectoryUser.objects.get(user_principal_name="diego@contoso.test")
    UserMfa.objects.filter(user=diego).update(blocked_for_fraud_at="2026-01-05T10:00:00Z")
    sign_in("admin@contoso.test")
    page.goto(f"/admin/users/{diego.object_id}/")
    expect(page.locator("#identity-title")).to_have_text("Diego Siciliani")

    press_enter_on(page, page.get_by_role("button", name="revoke sessions"))
    expect(page.get_by_role("status")).to_contain_text("is signed out of every session")
    diego.refresh_from_db()
    assert diego.session_version == 1

    press_enter_on(page, page.get_by_role("button", name="unblock user"))
    expect(page.get_by_role("status")).to_contain_text("can sign in with multi-factor")
    expect(page.get_by_role("button", name="unblock user")).to_have_count(0)
    assert UserMfa.objects.get(user=diego).blocked_for_fraud_at is None

    settings_form = (
        page.get_by_role("complementary", name="actions")
        .locator("form")
        .filter(has=page.get_by_role("button", name="save"))
    )
    restore = settings_form.get_by_label(
        "Restore multi-factor authentication on all remembered devices"
    )
    htmx_settled(page)
    tab_to(page, restore)
    page.keyboard.press("Space")
    press_enter_on(page, settings_form.get_by_role("button", name="save"))
    expect(page.get_by_role("status")).to_contain_text("Updates successful")
    assert UserMfa.objects.get(user=diego).remember_devices_not_issued_before is not None

    # Reset password: a confirmation page, then the temporary password, then back.
    press_enter_on(page, page.get_by_role("link", name="reset password"))
    expect(page.get_by_role("heading", name="Reset password?")).to_be_visible()
    cancel = page.get_by_role("link", name="cancel")
    tab_to(page, cancel)
    page.keyboard.press("Enter")
    expect(page.locator("#identity-title")).to_have_text("Diego Siciliani")
    press_enter_on(page, page.get_by_role("link", name="reset password"))
    expect(page.get_by_role("heading", name="Reset password?")).to_be_visible()
    press_enter_on(page, page.get_by_role("button", name="reset password"))
    expect(page.get_by_role("heading", name="Updates successful")).to_be_visible()
    diego.refresh_from_db()
    assert diego.password_must_change
    press_enter_on(page, page.get_by_role("link", name="close"))
    expect(page.locator("#identity-title")).to_have_text("Diego Siciliani")
    expect(page.get_by_text("Temporary: must be changed at next sign-in")).to_be_visible()


# --- registration wizard -----------------------------------------------------------------


def test_registration_wizard_to_the_end_by_keyboard(page: Page) -> None:
    allow(app_passwords_allowed=True)
    make_user("adele@contoso.test", display_name="Adele Vance", state=MfaState.ENABLED)
    page.goto("/signin/")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("adele@contoso.test")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    press_enter_on(page, page.get_by_role("link", name="Set it up now"))

    # Step 1: the mobile app, in code mode.
    expect(page.get_by_role("heading", name="Step 1: How should we contact you?")).to_be_visible()
    contact = page.get_by_label("Contact method")
    tab_to(page, contact)
    page.keyboard.press("End")
    expect(contact).to_have_value("mobile_app")
    code_mode = page.get_by_label("Use verification code")
    tab_to(page, page.locator("input[type=radio]:visible").first)
    for _ in range(3):
        if code_mode.is_checked():
            break
        page.keyboard.press("ArrowDown")
    expect(code_mode).to_be_checked()
    press_enter_on(page, page.get_by_role("button", name="Set up"))
    expect(page.get_by_role("heading", name="Configure mobile app")).to_be_visible()
    secret = totp.secret_normalise(page.locator("#secret-key").inner_text())
    press_enter_on(page, page.get_by_role("button", name="Finished"))
    expect(
        page.get_by_text("Mobile app has been configured for notifications and verification codes.")
    ).to_be_visible()
    press_enter_on(page, page.get_by_role("button", name="Contact me"))

    # Step 2: the code from the app; the field has the focus.
    expect(
        page.get_by_role("heading", name="Step 2: Enter the verification code from the mobile app")
    ).to_be_visible()
    code = page.get_by_label("Verification code")
    expect(code).to_be_focused()
    right = totp.code_at(secret, step=totp.current_step())
    page.keyboard.type("000000" if right != "000000" else "111111")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_be_visible()
    expect(code).to_be_focused()
    page.keyboard.type(totp.code_at(secret, step=totp.current_step()))
    page.keyboard.press("Enter")

    # Step 3: a backup phone, verified by a texted code.
    expect(
        page.get_by_role("heading", name="Step 3: In case you lose access to the mobile app")
    ).to_be_visible()
    phone = page.get_by_label("Phone number")
    tab_to(page, phone)
    page.keyboard.type("425 555 0177")
    page.keyboard.press("Enter")
    code = page.get_by_label("Verification code")
    expect(code).to_be_focused()
    page.keyboard.type(code_from_phone(page, "+14255550177"))
    page.keyboard.press("Enter")

    # Step 4: the first app password, then the security info page.
    expect(
        page.get_by_role("heading", name="Step 4: Keep using your existing applications")
    ).to_be_visible()
    press_enter_on(page, page.get_by_role("button", name="Create app password"))
    expect(page.locator("#app-password")).to_be_visible()
    assert re.fullmatch(r"[a-z]{16}", page.locator("#app-password").inner_text())
    press_enter_on(page, page.get_by_role("button", name="Done"))
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    expect(page.locator(".state")).to_have_text("Enforced")
    assert state_of("adele@contoso.test") == MfaState.ENFORCED
    kinds = set(
        Method.objects.filter(user__user_principal_name="adele@contoso.test").values_list(
            "kind", flat=True
        )
    )
    assert kinds == {Method.Kind.AUTHENTICATOR_APP, Method.Kind.AUTHENTICATION_PHONE}


# --- self-service pages ------------------------------------------------------------------


def sign_in_with_app_code(page: Page, upn: str, secret: str) -> None:
    page.goto("/signin/")
    page.get_by_label("User name").fill(upn)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(totp.code_at(secret, step=totp.current_step()))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def skip_to_main(page: Page) -> None:
    """The first Tab stop is the skip link; Enter on it puts the next Tab in the content."""
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")


def test_app_passwords_created_and_deleted_by_keyboard(page: Page) -> None:
    allow(app_passwords_allowed=True)
    adele = make_user(
        "adele@contoso.test", display_name="Adele Vance", state=MfaState.ENFORCED, registered=True
    )
    _app, secret = add_app(adele)
    sign_in_with_app_code(page, "adele@contoso.test", secret)
    page.goto("/mfa/app-passwords/")
    expect(page.get_by_role("heading", name="create")).to_be_visible()

    skip_to_main(page)
    name = page.get_by_label("Name")
    tab_to(page, name, limit=10)
    page.keyboard.type("Outlook on laptop")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your app password")).to_be_visible()
    value = page.locator("#app-password").inner_text()
    assert re.fullmatch(r"[a-z]{16}", value)
    press_enter_on(page, page.get_by_role("link", name="close"))
    row = page.get_by_role("row", name=re.compile("Outlook on laptop"))
    expect(row).to_be_visible()
    assert AppPassword.objects.filter(user=adele, name="Outlook on laptop").exists()

    # Delete asks first; "no" keeps it.
    delete = row.get_by_role("link", name=re.compile("Delete"))
    press_enter_on(page, delete)
    expect(page.get_by_role("heading", name="Delete app password")).to_be_visible()
    skip_to_main(page)
    expect(page.get_by_role("button", name="yes")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="no")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row).to_be_visible()
    assert AppPassword.objects.filter(user=adele).count() == 1

    press_enter_on(page, delete)
    expect(page.get_by_role("heading", name="Delete app password")).to_be_visible()
    press_enter_on(page, page.get_by_role("button", name="yes"))
    expect(page.get_by_role("status")).to_contain_text(
        "The app password Outlook on laptop has been deleted."
    )
    expect(page.get_by_role("row", name=re.compile("Outlook on laptop"))).to_have_count(0)
    assert not AppPassword.objects.filter(user=adele).exists()


def test_a_method_is_deleted_and_devices_restored_by_keyboard_on_the_security_info_page(
    page: Page,
) -> None:
    adele = make_user(
        "adele@contoso.test", display_name="Adele Vance", state=MfaState.ENFORCED, registered=True
    )
    _app, secret = add_app(adele)
    sign_in_with_app_code(page, "adele@contoso.test", secret)
    page.goto("/mfa/setup/")
    expect(page.get_by_role("heading", name="Authenticator app or Token")).to_be_visible()

    press_enter_on(page, page.get_by_role("button", name="Delete Test phone"))
    expect(page.get_by_role("status")).to_contain_text("The method has been deleted.")
    expect(page.get_by_text("No authenticator app is set up.")).to_be_visible()
    assert not Method.objects.filter(user=adele, kind=Method.Kind.AUTHENTICATOR_APP).exists()

    press_enter_on(page, page.get_by_role("button", name="Restore"))
    expect(page.get_by_role("status")).to_contain_text(
        "You'll be asked for verification again on every device you had trusted."
    )
    assert UserMfa.objects.get(user=adele).remember_devices_not_issued_before is not None


def test_a_stalled_job_can_be_resumed_by_keyboard_while_its_page_refreshes(
    page: Page, sign_in: Callable[..., None], tenant: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = DirectoryUser.objects.get(user_principal_name="admin@contoso.test")
    long_ago = timezone.now() - timedelta(minutes=30)
    job = BulkJob.objects.create(
        kind=BulkJob.Kind.STATE,
        status=BulkJob.Status.RUNNING,
        created_by=admin,
        params={"state": int(MfaState.ENABLED)},
        background=True,
        total=120,
        done=48,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    resumed: list[BulkJob] = []
    monkeypatch.setattr("mfaportal.admin_portal.views.jobs.job_enqueue", resumed.append)
    sign_in("admin@contoso.test")
    page.goto(f"/admin/jobs/{job.pk}/")
    resume = page.get_by_role("button", name="resume")
    htmx_settled(page)
    tab_to(page, resume)

    # Each poll redraws the job: the focus stays on "resume", and the status region speaks
    # only when the progress crosses a tenth.
    status = page.locator("#job-status")
    for _ in range(2):
        with page.expect_response(lambda response: "polling=1" in response.url):
            pass
        htmx_settled(page)
        expect(resume).to_be_focused()
    expect(status).to_have_text("")
    BulkJob.objects.filter(pk=job.pk).update(done=61)
    expect(status).to_have_text("Updating: 50% done")
    htmx_settled(page)
    expect(resume).to_be_focused()

    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Updating…")).to_be_visible()
    assert [queued.pk for queued in resumed] == [job.pk]
