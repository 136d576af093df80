"""Every HTML page of the portal passes axe-core (tests/admin_portal/axe.py).

The pages are visited in a few tours, each as the person who uses them would walk through
them: an admin, a helpdesk agent, someone signing in and registering, someone managing their
own security info, someone who forgot their password, the simulators, and an admin of a
tenant synced from Microsoft Graph. Each tour also opens the states of a page a person meets
(a quick-step dialog, a form showing its errors, a job that finished with problems).

``check(page)`` runs axe on the page as it is and notes which page it was (its URL name).
Each tour declares the pages it covers with ``@tour(...)`` and fails if it checked any other
set, so a tour cannot quietly stop covering a page; tests/core/test_every_page_is_checked.py
fails when a route is neither covered by a tour nor listed as not being a page.

The tours find controls by URL, id and field name rather than by their English words, so
every tour runs twice: in an English browser and in a Spanish one (the html lang is checked
on every page, so a Spanish run really reads Spanish pages).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Response, expect

from mfaportal.admin_portal.models import BulkJob
from mfaportal.core import roles
from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.models import DirectorySyncState, OutboxChange
from mfaportal.mfa import challenges, totp
from mfaportal.mfa.models import (
    AppPassword,
    AuthenticationEmail,
    MfaState,
    OutboxEmail,
    SignInAsked,
    SignInClient,
    SignInReason,
    SignInResult,
    UserMfa,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.services.signin_log import signin_record
from tests.admin_portal.axe import assert_accessible
from tests.admin_portal.conftest import bulk_users
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import add_app, code_now, last_code, service_set

pytestmark = pytest.mark.django_db(transaction=True)

LANGUAGES = {"english": "en-US", "spanish": "es-ES"}

# --- the check and the tours' declarations -------------------------------------------------

# The pages each tour declares, by test name: tests/core/test_every_page_is_checked.py reads it.
COVERED_BY_TOURS: dict[str, frozenset[str]] = {}

# Error pages have no URL name of their own: they are named by their status.
ERROR_PAGES = {403: "403 page", 404: "404 page"}

# htmx is loaded and no request, swap or settle is under way (as tests/e2e/conftest.py's
# htmx_settled; not imported from there, so the route test can import this module alone).
HTMX_IDLE = (
    "() => window.htmx !== undefined"
    " && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
)
HOLD_HTMX = """() => {
    window.holdHtmx = event => event.preventDefault();
    document.addEventListener("htmx:beforeRequest", window.holdHtmx);
}"""
RELEASE_HTMX = """() => {
    document.removeEventListener("htmx:beforeRequest", window.holdHtmx);
}"""


class Check:
    """``check(page)``: axe finds no violation on the page as it is now; the page's URL name
    (or its error status) is remembered in ``seen``."""

    def __init__(self, context: BrowserContext, *, lang: str) -> None:
        self.lang = lang
        self.seen: set[str] = set()
        self._status: dict[Page, int] = {}
        context.on("response", self._remember_status)

    def _remember_status(self, response: Response) -> None:
        frame = response.frame
        if frame.parent_frame is None and response.request.is_navigation_request():
            self._status[frame.page] = response.status

    def name_of(self, page: Page) -> str:
        status = self._status.get(page, 200)
        if status in ERROR_PAGES:
            return ERROR_PAGES[status]
        return str(resolve(urlsplit(page.url).path).view_name)

    def __call__(self, page: Page) -> None:
        # The browser's language picked the page's: a Spanish run checks Spanish pages.
        expect(page.locator("html")).to_have_attribute("lang", self.lang)
        # Pages that poll (a running job, the sync panel, the simulators) would otherwise swap
        # parts of themselves while axe reads them: let the last swap settle, hold the next.
        settled(page)
        page.evaluate(HOLD_HTMX)
        try:
            assert_accessible(page)
        finally:
            page.evaluate(RELEASE_HTMX)
        self.seen.add(self.name_of(page))


Test = TypeVar("Test", bound=Callable[..., None])


def tour(*pages: str) -> Callable[[Test], Test]:
    """Declare the pages a tour checks; the tour fails unless it checked exactly these."""
    declared = frozenset(pages)

    def decorate(test: Test) -> Test:
        COVERED_BY_TOURS[test.__name__] = declared

        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            test(*args, **kwargs)
            seen = kwargs["check"].seen
            assert seen == declared, (
                f"checked but not declared: {sorted(seen - declared)}; "
                f"declared but not checked: {sorted(declared - seen)}"
            )

        return cast(Test, run)

    return decorate


# A tour marked so runs twice: in an English browser and in a Spanish one.
in_english_and_spanish = pytest.mark.parametrize("language", list(LANGUAGES))


@pytest.fixture
def language() -> str:
    return "english"


@pytest.fixture
def context(language: str, browser: Browser, live_server) -> Iterator[BrowserContext]:
    """A browser in English or Spanish (its Accept-Language picks the pages' language)."""
    context = browser.new_context(base_url=live_server.url, locale=LANGUAGES[language])
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def check(context: BrowserContext, language: str) -> Check:
    return Check(context, lang=LANGUAGES[language].split("-")[0])


# --- ways around the pages that do not depend on the language ----------------------------


def settled(page: Page) -> None:
    page.wait_for_function(HTMX_IDLE)


def submit(page: Page, form: str = "main form") -> None:
    """Press the submit button of a form and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator(form).locator("button[type=submit]").first.click()


def press(page: Page, button: str) -> None:
    """Press this button and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator(button).click()


def follow(page: Page, link: Locator) -> None:
    with page.expect_navigation():
        link.click()


def sign_in_with_password(page: Page, upn: str, password: str = PASSWORD) -> None:
    page.goto(reverse("signin"))
    page.locator("#id_username").fill(upn)
    page.locator("#id_password").fill(password)
    submit(page)


def signed_in_as(context: BrowserContext, live_server, user: DirectoryUser) -> None:
    """Start the browser signed in, as after a sign-in (for the pages behind one)."""
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    context.add_cookies(
        [{"name": name, "value": client.cookies[name].value, "url": live_server.url}]
    )


def wait_for_dialog(page: Page) -> Locator:
    dialog = page.locator("dialog#modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#modal-title")).to_be_visible()
    settled(page)
    return dialog


def close_dialog(page: Page) -> None:
    page.keyboard.press("Escape")
    expect(page.locator("dialog#modal")).to_be_hidden()


def select_rows(page: Page, *upns: str) -> None:
    for upn in upns:
        page.locator("#results tbody tr").filter(has_text=upn).locator(
            "input[type=checkbox]"
        ).check()
    expect(page.locator("#pane form input[name=u]")).to_have_count(len(upns))
    settled(page)


def quick_step(page: Page, step: str) -> Locator:
    page.locator(f"#pane button[formaction$='/steps/{step}/']").click()
    return wait_for_dialog(page)


# --- admin --------------------------------------------------------------------------------


@pytest.fixture
def tenant() -> dict[str, DirectoryUser]:
    users = {
        "admin": make_user(
            "admin@contoso.test",
            display_name="MOD Administrator",
            admin_role=roles.GLOBAL_ADMINISTRATOR,
        ),
        "helpdesk": make_user(
            "helpdesk@contoso.test",
            display_name="Helpdesk Agent",
            admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
        ),
        "adele": make_user("adele@contoso.test", display_name="Adele Vance"),
        "alex": make_user("alex@contoso.test", display_name="Alex Wilber", state=MfaState.ENABLED),
        "diego": make_user(
            "diego@contoso.test",
            display_name="Diego Siciliani",
            state=MfaState.ENFORCED,
            registered=True,
        ),
        "zoe": make_user("zoe@contoso.test", display_name='Zoë <Ops> & "Sec"'),
        "nestor": make_user("nestor@contoso.test", display_name="Nestor Wilke", is_licensed=False),
    }
    diego = users["diego"]
    AppPassword.objects.create(user=diego, name="Outlook desktop", digest="d" * 64)
    UserMfa.objects.filter(user=diego).update(blocked_for_fraud_at=timezone.now())
    audit_record(
        ChangeContext(actor=users["admin"], source=AuditSource.PAGE, ip_address="192.0.2.10"),
        AuditEntry.about(diego, "mfa.state", before="Enabled", after="Enforced"),
    )
    for result, reason in (
        (SignInResult.FAILURE, SignInReason.WRONG_CODE),
        (SignInResult.SUCCESS, SignInReason.NONE),
    ):
        signin_record(
            client=SignInClient.BROWSER,
            asked=SignInAsked.APP_CODE,
            result=result,
            reason=reason,
            user=diego,
            address="192.0.2.10",
        )
    return users


def stalled_job(admin: DirectoryUser) -> BulkJob:
    """A background update the worker stopped working on, two fifths of the way through."""
    long_ago = timezone.now() - timedelta(minutes=30)
    return BulkJob.objects.create(
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


@in_english_and_spanish
@tour(
    "admin_portal:active_users",
    "admin_portal:users",
    "admin_portal:steps",
    "admin_portal:step",
    "admin_portal:user_detail",
    "admin_portal:user_manage",
    "admin_portal:user_password_reset",
    "admin_portal:user_password_shown",
    "admin_portal:bulk_update",
    "admin_portal:bulk_verify",
    "admin_portal:job",
    "admin_portal:service_settings",
    "admin_portal:audit",
    "admin_portal:signins",
    "admin_portal:guide",
)
def test_an_admin_meets_no_accessibility_barrier_on_the_admin_pages(
    page: Page, check: Check, context: BrowserContext, live_server, tenant: dict[str, Any]
) -> None:
    signed_in_as(context, live_server, tenant["admin"])

    # Active users (seed 000's way in): the list, a search, a user's pane, and from there the
    # users tab with that user selected.
    page.goto(reverse("admin_portal:active_users"))
    check(page)
    page.locator("#active-search").fill("adele")
    expect(page.locator("#active-results tbody tr")).to_have_count(1)
    settled(page)
    page.locator("#active-results a[data-pane-link]").click()
    expect(page.locator("#user-pane h2")).to_be_focused()
    settled(page)
    check(page)
    follow(page, page.locator(f"#user-pane a[href^='{reverse('admin_portal:users')}?']"))
    expect(page.locator("#pane .pane-name")).to_be_visible()
    check(page)

    page.goto(reverse("admin_portal:users"))
    check(page)

    # Two users picked: the pane offers the quick steps, and says why Nestor can't be enabled.
    select_rows(page, "adele@contoso.test", "nestor@contoso.test")
    check(page)
    dialog = quick_step(page, "enable")
    check(page)
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".problem-group")).to_be_visible()  # Nestor was skipped
    settled(page)
    check(page)
    close_dialog(page)

    page.goto(reverse("admin_portal:users") + "?q=diego")
    select_rows(page, "diego@contoso.test")
    quick_step(page, "disable")
    check(page)
    close_dialog(page)
    dialog = quick_step(page, "manage")
    check(page)
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator("[role=alert]")).to_be_visible()  # choose at least one setting
    settled(page)
    check(page)
    close_dialog(page)
    page.goto(reverse("admin_portal:users") + "?q=alex")
    select_rows(page, "alex@contoso.test")
    quick_step(page, "enforce")
    check(page)

    # More users than a page holds: the banner offers every user that matches the view.
    bulk_users(30, prefix="wave")
    page.goto(reverse("admin_portal:users") + "?q=wave&size=25")
    page.locator("#select-page").check()
    page.locator("#select-all-matching").click()
    expect(page.locator("#pane form input[name=all]")).to_have_count(1)
    settled(page)
    check(page)

    # Without JavaScript the pane and the dialogs are pages of their own.
    alex = tenant["alex"]
    page.goto(reverse("admin_portal:steps") + f"?u={alex.pk}")
    check(page)
    page.goto(reverse("admin_portal:step", args=["enforce"]) + f"?u={alex.pk}")
    check(page)

    # The user detail page, its Manage user settings form sent empty, the password reset.
    diego = tenant["diego"]
    page.goto(reverse("admin_portal:users") + "?q=diego")
    follow(page, page.locator(f"#results a[href$='/users/{diego.object_id}/']"))
    check(page)
    dialog = quick_step(page, "disable")
    check(page)
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".summary")).to_be_visible()  # Updates successful
    settled(page)
    check(page)
    page.goto(reverse("admin_portal:user_detail", args=[diego.object_id]))
    submit(page, f"form[action$='/users/{diego.object_id}/revoke/']")
    expect(page.locator("div[role=status]")).to_be_visible()
    check(page)
    submit(page, f"form[action$='/users/{diego.object_id}/manage/']")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    follow(page, page.locator(f"a[href$='/users/{diego.object_id}/reset-password/']"))
    check(page)
    submit(page, "main form.actions")
    expect(page.locator("#temporary-password")).to_be_visible()
    check(page)
    page.reload()  # shown once: a reload says so, and issues no other
    expect(page.locator("main [role=status]")).to_be_visible()
    check(page)

    # bulk update: an empty file, then a file with problems, verified and applied.
    page.goto(reverse("admin_portal:users"))
    follow(page, page.locator(f"a[href='{reverse('admin_portal:bulk_update')}']"))
    check(page)
    page.locator("#id_file").set_input_files(
        {"name": "empty.csv", "mimeType": "text/csv", "buffer": b""}
    )
    submit(page, "main form[enctype]")
    expect(page.locator("[role=alert]")).to_be_visible()  # the file can't be used
    check(page)
    follow(page, page.locator(f"main a[href='{reverse('admin_portal:bulk_update')}']"))
    page.locator("#id_file").set_input_files(
        {
            "name": "users.csv",
            "mimeType": "text/csv",
            "buffer": (
                b"Username,MFA Status\n"
                b"adele@contoso.test,Enforced\n"
                b"ghost@contoso.test,Enabled\n"
                b"adele@contoso.test,Enabled\n"
                b"alex@contoso.test,Maybe\n"
            ),
        }
    )
    submit(page, "main form[enctype]")
    expect(page.locator("table caption")).to_be_visible()
    check(page)
    submit(page, "main form[action$='/apply/']")
    expect(page.locator(".problem-group").first).to_be_visible()
    check(page)

    # A background update that stopped moving: the progress bar and the resume button.
    page.goto(reverse("admin_portal:job", args=[stalled_job(tenant["admin"]).pk]))
    expect(page.locator("progress")).to_be_visible()
    check(page)

    # service settings, then sent with mistakes.
    page.goto(reverse("admin_portal:users"))
    follow(page, page.locator(f"a[href='{reverse('admin_portal:service_settings')}']"))
    check(page)
    page.locator("#id_trusted_ip_ranges").fill("10.1.2.3/8\nintranet")
    page.locator("#id_remember_devices_allowed").check()
    page.locator("#id_remember_devices_days").fill("400")
    submit(page, "main form.settings")
    expect(page.locator("[role=alert]").first).to_be_visible()
    check(page)

    follow(page, page.locator(f"a[href='{reverse('admin_portal:audit')}']"))
    check(page)
    page.locator("#a-target").fill("diego@contoso.test")
    page.locator("#a-from").fill("2030-01-02")
    page.locator("#a-to").fill("2030-01-01")
    submit(page, "main form[role=search]")
    expect(page.locator("[role=alert]")).to_be_visible()  # the dates are the wrong way round
    check(page)
    follow(page, page.locator(f"a[href='{reverse('admin_portal:signins')}']"))
    check(page)
    page.locator("#s-address").fill("not an address")
    submit(page, "main form[role=search]")
    expect(page.locator("#s-address[aria-invalid=true]")).to_be_visible()
    check(page)
    page.goto(reverse("admin_portal:users"))
    follow(page, page.locator(f"a[href='{reverse('admin_portal:guide')}']"))
    check(page)


@in_english_and_spanish
@tour(
    "admin_portal:active_users",
    "admin_portal:users",
    "admin_portal:user_detail",
    "admin_portal:service_settings",
    "403 page",
    "signout",
)
def test_a_helpdesk_agent_meets_no_accessibility_barrier(
    page: Page, check: Check, context: BrowserContext, live_server, tenant: dict[str, Any]
) -> None:
    signed_in_as(context, live_server, tenant["helpdesk"])
    # A blocked user's pane, opened without JavaScript's help (the page as a link gives it).
    blocked = make_user("blocked@contoso.test", display_name="Blocked Bob", account_enabled=False)
    page.goto(reverse("admin_portal:active_users") + f"?user={blocked.object_id}")
    expect(page.locator("#user-pane h2")).to_be_visible()
    check(page)
    page.goto(reverse("admin_portal:users"))
    check(page)
    select_rows(page, "adele@contoso.test")
    dialog = quick_step(page, "manage")
    check(page)
    dialog.locator("input[type=checkbox]").first.check()
    dialog.locator("button[type=submit]").click()
    expect(dialog.locator(".summary")).to_be_visible()  # Updates successful
    settled(page)
    check(page)
    close_dialog(page)

    # An admin's page: the helpdesk may look but not change.
    admin = tenant["admin"]
    page.goto(reverse("admin_portal:user_detail", args=[admin.object_id]))
    check(page)
    # The service settings, read-only.
    page.goto(reverse("admin_portal:service_settings"))
    check(page)
    # The MFA state is not the helpdesk's to change.
    page.goto(reverse("admin_portal:step", args=["enable"]) + f"?u={admin.pk}")
    check(page)

    # The sign-out address opened as a page asks first; its button signs out.
    page.goto(reverse("signout"))
    check(page)
    submit(page, f"main form[action='{reverse('signout')}']")
    expect(page.locator("#id_username")).to_be_visible()


# --- sign-in, registration and the challenge -------------------------------------------------


def sign_out(page: Page) -> None:
    submit(page, "header form.signout")


@in_english_and_spanish
@tour(
    "signin",
    "signin_flow:more_information",
    "signin_flow:register",
    "signin_flow:register_app",
    "signin_flow:register_verify",
    "signin_flow:register_backup",
    "signin_flow:register_app_passwords",
    "signin_flow:verify",
    "signin_flow:verify_other",
)
def test_signing_in_and_registering_has_no_accessibility_barrier(page: Page, check: Check) -> None:
    service_set(app_passwords_allowed=True, remember_devices_allowed=True)
    make_user("adele@contoso.test", display_name="Adele Vance", state=MfaState.ENABLED)
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    add_app(megan, mode="notification")

    page.goto(reverse("signin"))
    check(page)
    sign_in_with_password(page, "adele@contoso.test", "not her password")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)

    # Enabled, nothing registered: More information required, then the wizard.
    sign_in_with_password(page, "adele@contoso.test")
    check(page)
    follow(page, page.locator(f"main a[href='{reverse('signin_flow:register')}']"))
    check(page)
    press(page, "main button[value=contact]")  # Contact me, with no phone number
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    check(page)
    page.locator("#id_contact").select_option("mobile_app")
    page.locator("input[name=app-mode][value=code]").check()
    press(page, "main button[value=setup]")
    check(page)  # Configure mobile app: the QR code and the key
    secret = totp.secret_normalise(page.locator("#secret-key").inner_text())
    submit(page)  # Finished: back to step 1, the app configured
    check(page)
    press(page, "main button[value=contact]")
    check(page)
    page.locator("#id_code").fill("000000")
    submit(page, "main form:has(#id_code)")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_code").fill(code_now(secret))
    submit(page, "main form:has(#id_code)")
    check(page)  # Step 3: a backup phone
    submit(page)
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    check(page)
    page.locator("main input[type=tel]").fill("425 555 0177")
    submit(page)
    page.locator("#id_code").fill(last_code("+14255550177"))
    submit(page, "main form:has(#id_code)")
    check(page)  # Step 4: an app password, or none
    submit(page, "main form.create-form")
    expect(page.locator("#app-password")).to_be_visible()
    check(page)
    page.reload()  # shown once
    expect(page.locator("main [role=status]")).to_be_visible()
    check(page)
    submit(page, "main form.actions")  # Done
    sign_out(page)

    # Registered: the challenge, Sign in another way, a call, a text code.
    sign_in_with_password(page, "megan@contoso.test")
    expect(page.locator(".match-number")).to_be_visible()
    check(page)
    follow(page, page.locator(f"main a[href='{reverse('signin_flow:verify_other')}']"))
    check(page)
    submit(page, "main form:has(button[value^=TwoWayVoiceMobile])")
    check(page)
    follow(page, page.locator(f"main a[href='{reverse('signin_flow:verify_other')}']"))
    with page.expect_navigation():
        page.locator("main button[value^=OneWaySMS]").click()
    page.locator("#id_code").fill("000000")
    submit(page, "main form:has(#id_code)")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_code").fill(last_code("+14255550123"))
    submit(page, "main form:has(#id_code)")
    expect(page.locator("header form.signout")).to_be_visible()


# --- additional security verification, app passwords, recovery contacts ------------------------


@pytest.fixture
def mail_outbox(settings: Any) -> None:
    # pytest-django routes mail to its in-memory outbox; /demo/mail/ reads the portal's own.
    settings.EMAIL_BACKEND = "mfaportal.mfa.mail.OutboxEmailBackend"


def last_mailed_code(address: str) -> str:
    mail = OutboxEmail.objects.filter(to_address=address).order_by("-id").first()
    assert mail is not None, f"no mail to {address}"
    found = re.search(r"\b(\d{6})\b", mail.body)
    assert found is not None, mail.body
    return found.group(1)


@in_english_and_spanish
@tour(
    "selfservice:setup",
    "selfservice:reauthenticate",
    "selfservice:verify_change",
    "selfservice:app_setup",
    "selfservice:app_configure",
    "selfservice:app_passwords",
    "selfservice:app_password_created",
    "selfservice:app_password_delete",
    "selfservice:recovery",
    "selfservice:recovery_email",
    "selfservice:recovery_phone",
    "404 page",
)
def test_managing_my_security_info_has_no_accessibility_barrier(
    page: Page, check: Check, context: BrowserContext, live_server, mail_outbox: None
) -> None:
    service_set(
        app_passwords_allowed=True,
        password_reset_enabled=True,
        password_reset_methods_required=2,
    )
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    add_app(megan, mode="code", default=False)
    signed_in_as(context, live_server, megan)
    page.goto(reverse("selfservice:setup"))
    check(page)

    # A phone number that isn't one, then a new number: the password first, then its code.
    page.locator("#id_auth-phone").fill("12")
    submit(page, "main form.setup-form")
    expect(page.locator("[role=alert]").first).to_be_visible()
    check(page)
    page.locator("#id_auth-phone").fill("425 555 0188")
    submit(page, "main form.setup-form")
    check(page)  # Enter your password again
    page.locator("#id_password").fill("not her password")
    submit(page)
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_password").fill(PASSWORD)
    submit(page)
    check(page)  # the code texted to the new number
    page.locator("#id_code").fill("000000")
    submit(page)
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_code").fill(last_code("+14255550188"))
    submit(page)
    expect(page.locator("[role=status]")).to_be_visible()
    check(page)

    # Set up Authenticator app, by code; a wrong code first.
    follow(page, page.locator(f"main a[href='{reverse('selfservice:app_setup')}']"))
    check(page)
    page.locator("input[name=mode][value=code]").check()
    submit(page)
    check(page)
    secret = totp.secret_normalise(page.locator("#secret-key").inner_text())
    page.locator("#id_code").fill("000000")
    submit(page)
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_code").fill(code_now(secret))
    submit(page)
    expect(page.locator("[role=status]")).to_be_visible()

    # app passwords: a nameless one refused, one created and shown once, then deleted.
    follow(page, page.locator(f"a[href='{reverse('selfservice:app_passwords')}']").first)
    check(page)
    submit(page, "main form.create-form")
    check(page)
    page.locator("#id_name").fill("Outlook on laptop")
    submit(page, "main form.create-form")
    expect(page.locator("#app-password")).to_be_visible()
    check(page)
    page.reload()  # shown once
    expect(page.locator("main [role=status]")).to_be_visible()
    check(page)
    follow(page, page.locator("main a.button.primary"))
    follow(page, page.locator("main a[href$='/delete/']").first)
    check(page)
    submit(page)
    expect(page.locator("[role=status]")).to_be_visible()
    check(page)
    page.goto(reverse("selfservice:app_password_delete", args=[999_999]))
    check(page)  # We couldn't find that page

    # Don't lose access to your account: finish too early, then the email and the phone.
    page.goto(reverse("selfservice:setup"))
    follow(page, page.locator(f"main a[href='{reverse('selfservice:recovery')}']"))
    check(page)
    submit(page, "main form.actions")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    follow(page, page.locator(f"main a[href='{reverse('selfservice:recovery_email')}']").first)
    check(page)
    page.locator("#id_email").fill("megan@contoso.test")  # her own mailbox is refused
    submit(page, "main form:has(#id_email)")
    expect(page.locator("#id_email[aria-invalid=true]")).to_be_visible()
    check(page)
    page.locator("#id_email").fill("megan.home@example.net")
    submit(page, "main form:has(#id_email)")
    check(page)  # the code mailed to it
    page.locator("#id_code").fill("000000")
    submit(page, "main form:has(#id_code)")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_code").fill(last_mailed_code("megan.home@example.net"))
    submit(page, "main form:has(#id_code)")
    follow(page, page.locator(f"main a[href='{reverse('selfservice:recovery_phone')}']").first)
    check(page)
    page.locator("main input[type=tel]").fill("12")
    submit(page)
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    check(page)


# --- a temporary password, and a forgotten one ---------------------------------------------------


@in_english_and_spanish
@tour(
    "signin_flow:update_password",
    "signin_flow:forgot_password",
    "signin_flow:forgot_verify",
    "signin_flow:forgot_code",
    "signin_flow:forgot_new_password",
    "signin_flow:forgot_done",
)
def test_replacing_a_temporary_or_forgotten_password_has_no_accessibility_barrier(
    page: Page, check: Check, mail_outbox: None
) -> None:
    # Not enabled for MFA: Update your password is the first page (an Enabled one registers
    # first, as seed 003 walks it).
    newcomer = make_user("nina@contoso.test", display_name="Nina Newhire")
    newcomer.set_password("Temporary-Pass-4")
    newcomer.password_must_change = True
    newcomer.save()
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    AuthenticationEmail.objects.create(user=megan, address="megan.home@example.net")

    # Update your password, first with a confirmation that doesn't match.
    sign_in_with_password(page, "nina@contoso.test", "Temporary-Pass-4")
    check(page)
    page.locator("#id_current_password").fill("Temporary-Pass-4")
    page.locator("#id_new_password").fill("Ninas-Own-Passphrase-8")
    page.locator("#id_confirm_password").fill("Ninas-Own-Passphrase-9")
    submit(page, "main form:has(#id_new_password)")
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    check(page)
    submit(page, f"main form[action='{reverse('signout')}']")

    # Forgot my password: not offered while self-service password reset is off.
    page.goto(reverse("signin_flow:forgot_password"))
    check(page)
    service_set(password_reset_enabled=True, password_reset_methods_required=2)
    page.goto(reverse("signin"))
    follow(page, page.locator(f"main a[href='{reverse('signin_flow:forgot_password')}']"))
    check(page)
    submit(page)
    check(page)  # no user name
    page.locator("#id_username").fill("megan@contoso.test")
    submit(page)
    check(page)  # verification step 1
    submit(page, "main form.reset-form")
    check(page)  # no contact method chosen
    page.locator("input[name=reset-method][value=email]").check()
    page.locator("#id_reset-email").fill("megan.home@example.net")
    submit(page, "main form.reset-form")
    check(page)  # the code sent by mail
    page.locator("#id_code").fill("000000")
    submit(page, "main form:has(#id_code)")
    expect(page.locator("[role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_code").fill(last_mailed_code("megan.home@example.net"))
    submit(page, "main form:has(#id_code)")
    page.locator("input[name=reset-method][value=text]").check()
    page.locator("#id_reset-phone").fill("425 555 0123")
    submit(page, "main form.reset-form")
    page.locator("#id_code").fill(last_code("+14255550123"))
    submit(page, "main form:has(#id_code)")
    check(page)  # choose a new password
    page.locator("#id_new_password").fill("short")
    page.locator("#id_confirm_password").fill("short")
    submit(page)
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    check(page)
    page.locator("#id_new_password").fill("Remembered-Again-Later-5")
    page.locator("#id_confirm_password").fill("Remembered-Again-Later-5")
    submit(page)
    check(page)  # Your password has been reset


# --- the phone, mail and authenticator simulators ---------------------------------------------


@in_english_and_spanish
@tour("demo:phone", "demo:mail", "demo:authenticator")
def test_the_simulators_have_no_accessibility_barrier(
    page: Page, check: Check, mail_outbox: None
) -> None:
    megan = make_user(
        "megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED, registered=True
    )
    add_app(megan, mode="notification")
    for where in ("demo:phone", "demo:mail", "demo:authenticator"):
        page.goto(reverse(where))
        check(page)  # nothing sent yet; nobody signing in

    # A text, a call ringing and a mailed code, sent the way the sign-in sends them.
    phone = megan.methods.get(kind=VerificationMethod.Kind.AUTHENTICATION_PHONE)
    Channel = VerificationChallenge.Channel
    for channel in (Channel.TEXT, Channel.CALL):
        challenges.challenge_start(
            user=megan,
            channel=channel,
            purpose=VerificationChallenge.Purpose.SIGN_IN,
            method=phone,
        )
    challenges.challenge_start(
        user=megan,
        channel=Channel.EMAIL,
        purpose=VerificationChallenge.Purpose.PASSWORD_RESET,
        email_address="megan.home@example.net",
    )
    page.goto(reverse("demo:phone"))
    follow(page, page.locator("nav.numbers a").first)
    expect(page.locator("form.keypad")).to_be_visible()
    check(page)
    submit(page, "main form.keypad")  # answer and press #
    expect(page.locator("[role=status]")).to_be_visible()
    check(page)
    page.goto(reverse("demo:mail"))
    follow(page, page.locator("nav.numbers a").first)
    expect(page.locator(".sim-mail").first).to_be_visible()
    check(page)

    # Megan signs in with this browser: her authenticator asks her to approve, she denies.
    sign_in_with_password(page, "megan@contoso.test")
    app = page.context.new_page()
    app.goto(reverse("demo:authenticator"))
    expect(app.locator("form.approval")).to_be_visible()
    check(app)
    with app.expect_navigation():
        app.locator("form.approval button[value=deny]").click()
    expect(app.locator("form.approval.denied")).to_be_visible()
    check(app)


# --- a tenant synced from Microsoft Graph ------------------------------------------------------


@pytest.fixture
def graph_directory(settings: Any) -> None:
    """The portal in graph mode. The pages only read the cache and the sync's record, so no
    Graph is needed behind them here (tests/directory runs the sync against the emulator)."""
    settings.MFAPORTAL_DIRECTORY = "graph"


def sync_failed_with_changes_waiting(admin: DirectoryUser) -> None:
    an_hour_ago = timezone.now() - timedelta(hours=1)
    DirectorySyncState.load()
    DirectorySyncState.objects.filter(pk=1).update(
        status=DirectorySyncState.Status.FAILED,
        last_full_sync_at=an_hour_ago - timedelta(days=1),
        last_delta_sync_at=an_hour_ago,
        last_error="Authorization_RequestDenied: Insufficient privileges to complete the operation.",
        last_error_at=timezone.now(),
        last_warnings=["methods: accessDenied for 3 users"],
    )
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    common = {"user": adele, "object_id": adele.object_id, "user_label": adele.user_principal_name}
    OutboxChange.objects.create(
        **common, kind=OutboxChange.Kind.MFA_STATE, payload={"state": "Enabled"}, actor=admin
    )
    OutboxChange.objects.create(
        **common,
        kind=OutboxChange.Kind.METHODS_DELETE,
        status=OutboxChange.Status.FAILED,
        graph_status=403,
        graph_error_code="accessDenied",
        last_error="Insufficient privileges.",
        done_at=an_hour_ago,
        actor=admin,
    )


def sync_running() -> None:
    now = timezone.now()
    DirectorySyncState.objects.filter(pk=1).update(
        status=DirectorySyncState.Status.RUNNING,
        running_since=now,
        heartbeat_at=now,
        last_started_at=now,
        run_kind="full",
        stage="methods",
        progress_done=1_200,
        progress_total=5_000,
    )


@in_english_and_spanish
@tour("signin", "entra:callback", "entra:sync", "admin_portal:users")
def test_an_admin_of_a_graph_synced_tenant_meets_no_accessibility_barrier(
    page: Page,
    check: Check,
    context: BrowserContext,
    live_server,
    graph_directory: None,
    tenant: dict[str, Any],
) -> None:
    page.goto(reverse("signin"))
    check(page)  # Sign in with Microsoft Entra ID
    # An answer from Entra ID this browser never asked for (a replay): Entra's own auto-posted
    # form, as its form_post response mode sends it.
    with page.expect_navigation():
        page.evaluate(
            """action => {
                const form = document.createElement("form");
                form.method = "post";
                form.action = action;
                for (const [name, value] of [["code", "replayed"], ["state", "stale"]]) {
                    const input = document.createElement("input");
                    input.type = "hidden"; input.name = name; input.value = value;
                    form.append(input);
                }
                document.body.append(form);
                form.submit();
            }""",
            reverse("entra:callback"),
        )
    check(page)

    signed_in_as(context, live_server, tenant["admin"])
    sync_failed_with_changes_waiting(tenant["admin"])
    page.goto(reverse("admin_portal:users"))
    expect(page.locator("#sync-panel")).to_be_visible()
    check(page)
    follow(page, page.locator(f"nav.admin-tabs a[href='{reverse('entra:sync')}']"))
    expect(page.locator("#sync-panel [role=alert]")).to_be_visible()
    check(page)
    sync_running()
    page.reload()
    expect(page.locator("#sync-progress")).to_be_visible()
    check(page)


# --- a Temporary Access Pass (issue 16.2) ----------------------------------------------------


@in_english_and_spanish
@tour(
    "admin_portal:user_detail",
    "admin_portal:user_tap",
    "admin_portal:user_tap_shown",
    "signin",
    "signin_flow:temporary_access_pass",
)
def test_issuing_and_using_a_temporary_access_pass_has_no_accessibility_barrier(
    page: Page, check: Check, context: BrowserContext, live_server, tenant: dict[str, Any]
) -> None:
    signed_in_as(context, live_server, tenant["helpdesk"])
    adele = tenant["adele"]
    page.goto(reverse("admin_portal:user_detail", args=[adele.object_id]))
    check(page)
    follow(page, page.locator(f"a[href$='/users/{adele.object_id}/temporary-access-pass/']"))
    check(page)
    # A lifetime shorter than Microsoft allows: the form says so.
    page.locator("#id_lifetime").fill("5")
    page.locator("#id_unit").select_option("minutes")
    submit(page)
    expect(page.locator("main [role=alert]")).to_be_visible()
    check(page)
    page.locator("#id_lifetime").fill("1")
    page.locator("#id_unit").select_option("hours")
    page.locator("#id_one_time").check()
    submit(page)
    expect(page.locator("#temporary-access-pass")).to_be_visible()
    check(page)
    page.reload()  # shown once: a reload says so, and issues no other
    expect(page.locator("main [role=status]")).to_be_visible()
    check(page)
    page.goto(reverse("admin_portal:user_detail", args=[adele.object_id]))
    expect(page.locator("#tap-status")).to_be_visible()
    check(page)

    sign_out(page)
    page.goto(reverse("signin"))
    check(page)
    follow(page, page.locator(f"main a[href='{reverse('signin_flow:temporary_access_pass')}']"))
    check(page)
    page.locator("#id_username").fill("adele@contoso.test")
    page.locator("#id_temporary_access_pass").fill("not-the-pass")
    submit(page)
    expect(page.locator("main [role=alert]")).to_be_visible()
    check(page)


# --- hardware OATH tokens (issue 16.3) ----------------------------------------------------


@in_english_and_spanish
@tour("admin_portal:hardware_tokens", "admin_portal:user_detail", "selfservice:setup")
def test_hardware_tokens_have_no_accessibility_barrier(
    page: Page, check: Check, context: BrowserContext, live_server, tenant: dict[str, Any]
) -> None:
    signed_in_as(context, live_server, tenant["admin"])
    page.goto(reverse("admin_portal:hardware_tokens"))
    check(page)  # no tokens yet
    page.locator("#id_file").set_input_files(
        {
            "name": "tokens.csv",
            "mimeType": "text/csv",
            "buffer": (
                b"upn,serial number,secret key,time interval,manufacturer,model\n"
                b"adele@contoso.test,SN-1,6PJ4UKIW33NNXYZAEHQNFUFTZF7WFTFB,30,Contoso,T1000\n"
                b",SN-2,TXYZAE6PJ4UZF3NNKIW3HQNFUF7WFTFB,60,Contoso,T2000\n"
                b"ghost@contoso.test,SN-3,6PJ4UKIW33NNXYZAEHQNFUFTZF7WFTFB,45,Contoso,T1000\n"
            ),
        }
    )
    submit(page, "main form[enctype]")
    expect(page.locator("#upload-result-title")).to_be_visible()
    check(page)  # the tokens, and the line that was refused
    page.goto(reverse("admin_portal:user_detail", args=[tenant["adele"].object_id]))
    expect(page.locator("#hardware-tokens-title")).to_be_visible()
    check(page)  # the token and its activation form

    signed_in_as(context, live_server, tenant["adele"])
    page.goto(reverse("selfservice:setup"))
    expect(page.locator("#hardware-tokens-title")).to_be_visible()
    check(page)  # Activate your hardware token
