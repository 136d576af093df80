"""Spanish pages and keyboard-only use in Chromium (issue 6): the browser's language picks
the pages' language, and the sign-in, the quick-step dialogs and the registration wizard
work with the keyboard alone, focus moving into dialogs and back to what opened them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import mfa_state_set
from tests.admin_portal.axe import assert_accessible
from tests.e2e.conftest import htmx_settled, screenshot, tab_to
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spanish_page(browser: Browser, live_server) -> Iterator[Page]:
    """A browser whose language is Spanish (Accept-Language: es-ES)."""
    context = browser.new_context(base_url=live_server.url, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_a_spanish_browser_gets_the_sign_in_page_in_spanish(spanish_page: Page) -> None:
    page = spanish_page
    make_user("adele@contoso.test", display_name="Adele Vance")
    page.goto("/signin/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", name="Iniciar sesión en MFA Portal")).to_be_visible()
    expect(page.get_by_label("Nombre de usuario")).to_be_visible()
    screenshot(page, "es-signin")
    assert_accessible(page)

    page.get_by_label("Nombre de usuario").fill("adele@contoso.test")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión", exact=True).click()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    expect(page.get_by_role("heading", name="Verificación de seguridad adicional")).to_be_visible()
    assert_accessible(page)

    # The footer's picker switches to English, without JavaScript's help.
    page.get_by_label("Idioma").select_option("en")
    page.get_by_role("button", name="Cambiar idioma").click()
    expect(page.get_by_role("heading", name="Additional security verification")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_spanish_admin_users_page_passes_axe(
    spanish_page: Page, sign_in: Callable[..., None]
) -> None:
    page = spanish_page
    make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    make_user("adele@contoso.test", display_name="Adele Vance")
    page.goto("/signin/")
    page.get_by_label("Nombre de usuario").fill("admin@contoso.test")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión", exact=True).click()
    page.goto("/admin/users/")
    expect(page.get_by_role("heading", name="autenticación multifactor")).to_be_visible()
    page.get_by_role("checkbox", name="Seleccionar a Adele Vance").check()
    expect(page.locator("#pane").get_by_role("button", name="Habilitar")).to_be_visible()
    screenshot(page, "es-admin-users")
    assert_accessible(page)


def test_keyboard_only_sign_in(page: Page) -> None:
    make_user("adele@contoso.test", display_name="Adele Vance")
    page.goto("/signin/")
    user_name = page.get_by_label("User name")
    expect(user_name).to_be_focused()
    page.keyboard.type("adele@contoso.test")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_keyboard_only_quick_step_dialog_takes_focus_and_gives_it_back(
    page: Page, sign_in: Callable[..., None]
) -> None:
    make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    make_user("adele@contoso.test", display_name="Adele Vance")
    sign_in("admin@contoso.test")
    page.goto("/admin/users/?q=adele")

    htmx_settled(page)
    box = page.get_by_role("checkbox", name="Select Adele Vance")
    tab_to(page, box)
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    enable = page.locator("#pane").get_by_role("button", name="Enable", exact=True)
    expect(enable).to_be_visible()
    htmx_settled(page)

    tab_to(page, enable)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    expect(dialog.locator(":focus")).to_have_count(1)
    assert_accessible(page)

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(enable).to_be_focused()

    # Again, leaving by the dialog's own cancel button.
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("heading", name="About enabling multi-factor auth")).to_be_visible()
    cancel = dialog.get_by_role("button", name="cancel")
    tab_to(page, cancel)
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(enable).to_be_focused()
    assert DirectoryUser.objects.get(user_principal_name="adele@contoso.test").mfa.state == (
        MfaState.DISABLED
    )


def test_keyboard_only_registration_wizard_first_step(page: Page) -> None:
    adele = make_user("adele@contoso.test", display_name="Adele Vance")
    mfa_state_set(
        users=DirectoryUser.objects.filter(pk=adele.pk),
        state=MfaState.ENABLED,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    page.goto("/signin/")
    expect(page.get_by_label("User name")).to_be_focused()
    page.keyboard.type("adele@contoso.test")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    tab_to(page, page.get_by_role("link", name="Set it up now"))
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Step 1: How should we contact you?")).to_be_visible()
    assert_accessible(page)
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
    set_up = page.get_by_role("button", name="Set up")
    tab_to(page, set_up)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Configure mobile app")).to_be_visible()
