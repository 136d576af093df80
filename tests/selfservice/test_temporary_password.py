"""A temporary password must be replaced at sign-in before anything else (DESIGN §5.7)."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, ThrottleBucket, UserMfa
from mfaportal.mfa.recovery import password_reset_temporary
from tests.factories import make_user
from tests.selfservice.helpers import (
    add_app,
    code_now,
    is_signed_in,
    last_code,
    password_step,
    service_set,
    text,
)

pytestmark = pytest.mark.django_db
UPDATE = "/signin/update-password/"
NEW = "Brand-New-Passphrase-42"


def temporary_for(user: DirectoryUser) -> str:
    return password_reset_temporary(
        user=user, context=ChangeContext(actor=None, source=AuditSource.CLI)
    )


def update(
    client: Client, current: str, new: str = NEW, confirm: str | None = None, follow: bool = False
):
    return client.post(
        UPDATE,
        {
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
        follow=follow,
    )


def test_signing_in_with_a_temporary_password_opens_update_your_password(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    temporary = temporary_for(adele)
    response = password_step(client, "adele@contoso.test", temporary)
    assert response.status_code == 302 and response["Location"] == UPDATE
    page = text(client.get(UPDATE))
    assert "Update your password" in page
    for label in ("Current password", "New password", "Confirm password"):
        assert label in page
    assert not is_signed_in(client)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/mfa/setup/",
        "/mfa/app-passwords/",
        "/mfa/recovery/",
        "/demo/phone/",
        "/demo/mail/",
        "/demo/authenticator/",
        "/admin/users/",
        "/admin/settings/",
        "/signin/more-information/",
        "/signin/register/",
        "/signin/verify/",
        "/signin/forgot-password/",
    ],
)
def test_no_page_opens_before_the_temporary_password_is_replaced(client: Client, path) -> None:
    admin = make_user("admin@contoso.test")
    temporary = temporary_for(admin)
    password_step(client, "admin@contoso.test", temporary)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == UPDATE
    htmx = client.get(path, HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == UPDATE


def test_signing_out_is_allowed_and_forgets_the_half_finished_sign_in(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    password_step(client, "adele@contoso.test", temporary_for(adele))
    assert client.post("/signout/").status_code == 302
    assert client.get("/demo/phone/").status_code == 200


def test_the_temporary_password_is_refused_as_the_new_one(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    temporary = temporary_for(adele)
    password_step(client, "adele@contoso.test", temporary)
    response = update(client, temporary, new=temporary)
    assert response.status_code == 200
    assert "can't be the same as the current one" in text(response)
    adele.refresh_from_db()
    assert adele.password_must_change and adele.check_password(temporary)


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        ("short1", None, "This password is too short"),
        ("password123", None, "This password is too common"),
        ("48291057384", None, "This password is entirely numeric"),
        (NEW, "Something-Else-42", "The passwords don't match"),
    ],
)
def test_djangos_password_rules_apply_to_the_new_password(
    client: Client, new: str, confirm: str | None, message: str
) -> None:
    adele = make_user("adele@contoso.test")
    temporary = temporary_for(adele)
    password_step(client, "adele@contoso.test", temporary)
    page = text(update(client, temporary, new=new, confirm=confirm))
    assert message in page
    adele.refresh_from_db()
    assert adele.password_must_change


def test_a_wrong_current_password_is_refused_and_limited(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    temporary = temporary_for(adele)
    password_step(client, "adele@contoso.test", temporary)
    for _attempt in range(5):
        page = text(update(client, "Not-The-Temporary-1", follow=True))
        assert "Your current password is incorrect." in page
    page = text(update(client, temporary, follow=True))
    assert "too many times" in page
    adele.refresh_from_db()
    assert adele.password_must_change


@pytest.mark.parametrize("signed_in", [False, True])
def test_reloading_update_your_password_after_a_wrong_current_password_counts_it_once(
    client: Client, signed_in: bool
) -> None:
    adele = make_user("adele@contoso.test")
    if signed_in:
        client.force_login(adele)
        DirectoryUser.objects.filter(pk=adele.pk).update(password_must_change=True)
    else:
        password_step(client, "adele@contoso.test", temporary_for(adele))
    response = update(client, "Not-The-Current-1")
    assert response.status_code == 302 and response["Location"] == UPDATE
    assert "Your current password is incorrect." in text(client.get(UPDATE))
    assert "Your current password is incorrect." not in text(client.get(UPDATE))
    assert ThrottleBucket.objects.get(key=f"password-change:user:{adele.pk}").count == 1


def test_a_user_without_mfa_is_signed_in_with_the_new_password(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    temporary = temporary_for(adele)
    password_step(client, "adele@contoso.test", temporary, next_url="/mfa/app-passwords/")
    response = update(client, temporary)
    assert response.status_code == 302 and response["Location"] == "/mfa/app-passwords/"
    assert is_signed_in(client)
    adele.refresh_from_db()
    assert not adele.password_must_change and adele.check_password(NEW)
    assert not adele.check_password(temporary)
    assert AuditEvent.objects.filter(target=adele, action="directory.password_changed").exists()
    assert client.get("/mfa/setup/").status_code == 200


def test_a_new_hire_registers_then_updates_the_password(client: Client) -> None:
    """Seed 003's order: MFA registration, the app password step, *Update your password*."""
    service_set(app_passwords_allowed=True)
    adele = make_user("adele@contoso.test", state=MfaState.ENABLED)
    temporary = temporary_for(adele)
    response = password_step(client, "adele@contoso.test", temporary)
    assert response["Location"] == "/signin/more-information/"
    # Nothing else opens meanwhile, the new password page included.
    assert client.get(UPDATE)["Location"] == "/signin/register/"
    assert client.get("/mfa/setup/")["Location"].startswith("/signin/")
    client.post(
        "/signin/register/",
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "425 555 0100",
            "auth-how": "text",
        },
    )
    response = client.post(
        "/signin/register/verify/", {"action": "code", "code": last_code("+14255550100")}
    )
    assert response["Location"] == "/signin/register/app-passwords/"
    response = client.post(response["Location"], {"action": "decline"})
    assert response["Location"] == UPDATE and not is_signed_in(client)
    page = text(client.get(UPDATE))
    assert "Update your password" in page and "Update password and sign in" in page
    response = update(client, temporary)
    assert response["Location"] == "/" and is_signed_in(client)
    # The second factor was proved at registration: not asked again.
    assert UserMfa.objects.get(user=adele).state == MfaState.ENFORCED


def test_a_registered_user_answers_the_second_factor_before_choosing_a_new_password(
    client: Client,
) -> None:
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _method, secret = add_app(adele)
    temporary = temporary_for(adele)
    response = password_step(client, "adele@contoso.test", temporary)
    assert response["Location"] == "/signin/verify/"
    # The temporary password alone can't choose the next one: back to the challenge.
    assert update(client, temporary)["Location"] == "/signin/verify/"
    adele.refresh_from_db()
    assert adele.check_password(temporary) and adele.password_must_change
    response = client.post(
        "/signin/verify/", {"action": "code", "code": code_now(secret), "remember": "on"}
    )
    assert response["Location"] == UPDATE
    assert not is_signed_in(client)
    assert client.get("/mfa/setup/")["Location"] == UPDATE
    response = update(client, temporary)
    assert response.status_code == 302 and response["Location"] == "/"
    assert is_signed_in(client)


def test_the_temporary_password_does_not_work_on_legacy_clients(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    temporary = temporary_for(adele)
    header = base64.b64encode(f"adele@contoso.test:{temporary}".encode()).decode()
    assert client.get("/legacy/auth", HTTP_AUTHORIZATION=f"Basic {header}").status_code == 401
    password_step(client, "adele@contoso.test", temporary)
    update(client, temporary)
    header = base64.b64encode(f"adele@contoso.test:{NEW}".encode()).decode()
    assert client.get("/legacy/auth", HTTP_AUTHORIZATION=f"Basic {header}").status_code == 200


def test_an_admins_reset_signs_the_user_out_everywhere(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    client.force_login(adele)
    assert client.get("/mfa/setup/").status_code == 200
    temporary_for(adele)
    response = client.get("/mfa/setup/")
    assert response.status_code == 302 and response["Location"].startswith("/signin/")


def test_a_signed_in_user_flagged_otherwise_is_kept_on_update_your_password(
    client: Client,
) -> None:
    adele = make_user("adele@contoso.test")
    client.force_login(adele)
    DirectoryUser.objects.filter(pk=adele.pk).update(password_must_change=True)
    assert client.get("/mfa/setup/")["Location"] == UPDATE
    from tests.factories import PASSWORD

    response = update(client, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/mfa/setup/").status_code == 200


def test_temporary_passwords_are_strong_and_different_every_time() -> None:
    from mfaportal.mfa.recovery import temporary_password_generate

    seen = {temporary_password_generate() for _ in range(200)}
    assert len(seen) == 200
    for value in seen:
        assert len(value.replace("-", "")) == 16
        assert any(c.isupper() for c in value) and any(c.islower() for c in value)
        assert any(c.isdigit() for c in value)


def test_the_sign_in_page_offers_forgot_my_password_only_when_it_is_on(client: Client) -> None:
    assert "Forgot my password" not in text(client.get("/signin/"))
    service_set(password_reset_enabled=True)
    assert "Forgot my password" in text(client.get("/signin/"))
