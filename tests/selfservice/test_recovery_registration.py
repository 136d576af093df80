"""*Don't lose access to your account!* after MFA registration and from /mfa/setup/
(DESIGN §5.7): the authentication email proved by a mailed code, the authentication phone
reused or verified anew."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client

from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import (
    AuthenticationEmail,
    MfaState,
    VerificationChallenge,
    VerificationMethod,
)
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import (
    last_code,
    last_mail_code,
    mails_to,
    password_step,
    service_set,
    session_proved,
    text,
)

pytestmark = pytest.mark.django_db
RECOVERY = "/mfa/recovery/"
APP_PASSWORDS_STEP = "/signin/register/app-passwords/"
RECOVERY_EMAIL = "/mfa/recovery/email/"
RECOVERY_PHONE = "/mfa/recovery/phone/"
HOME = "adele.home@example.net"


def sspr(required: int = 2, **fields: object) -> None:
    service_set(password_reset_enabled=True, password_reset_methods_required=required, **fields)


def register_by_text(client: Client) -> None:
    """The MFA registration wizard with the authentication phone by text."""
    client.get("/signin/more-information/")
    client.post(
        "/signin/register/",
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "425 555 0100",
            "auth-how": "text",
        },
    )


def test_mfa_registration_continues_with_dont_lose_access(client: Client) -> None:
    sspr(required=2)
    adele = make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    register_by_text(client)
    response = client.post(
        "/signin/register/verify/", {"action": "code", "code": last_code("+14255550100")}
    )
    assert response["Location"] == RECOVERY
    page = text(client.get(RECOVERY))
    assert "Don't lose access to your account!" in page
    assert "You'll need to set up at least 2 of the options below." in page
    # The phone from the MFA registration counts; the email doesn't exist yet.
    assert "is set to +1 425-555-0100." in page
    assert "Set it up now" in page
    assert client.post(RECOVERY).status_code == 400

    client.post(RECOVERY_EMAIL, {"action": "send", "email": HOME})
    assert "We've sent an email message containing a verification code" in text(
        client.get(RECOVERY_EMAIL)
    )
    response = client.post(RECOVERY_EMAIL, {"action": "verify", "code": last_mail_code(HOME)})
    assert response["Location"] == RECOVERY
    assert AuthenticationEmail.objects.get(user=adele).address == HOME
    response = client.post(RECOVERY)
    assert response.status_code == 302 and response["Location"] == "/"
    assert AuditEvent.objects.filter(target=adele, action="sspr.authentication_email_set").exists()


def test_with_app_passwords_allowed_the_app_password_step_comes_first(client: Client) -> None:
    """Seed 003's order: registration, the app password, then *Don't lose access*."""
    sspr(required=1, app_passwords_allowed=True)
    make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    register_by_text(client)
    response = client.post(
        "/signin/register/verify/", {"action": "code", "code": last_code("+14255550100")}
    )
    assert response["Location"] == APP_PASSWORDS_STEP
    response = client.post(APP_PASSWORDS_STEP, {"action": "create", "name": "Outlook"})
    assert response["Location"] == APP_PASSWORDS_STEP
    client.get(APP_PASSWORDS_STEP)
    response = client.post(APP_PASSWORDS_STEP, {"action": "done"})
    # One method is enough and the phone is registered: signed in, nothing more to set up.
    assert response["Location"] == "/"

    sspr(required=2, app_passwords_allowed=True)
    other = Client()
    make_user("megan@contoso.test", state=MfaState.ENABLED)
    password_step(other, "megan@contoso.test")
    register_by_text(other)
    response = other.post(
        "/signin/register/verify/", {"action": "code", "code": last_code("+14255550100")}
    )
    assert response["Location"] == APP_PASSWORDS_STEP
    assert "Keep using your existing applications" in text(other.get(APP_PASSWORDS_STEP))
    response = other.post(APP_PASSWORDS_STEP, {"action": "decline"})
    assert response["Location"] == RECOVERY
    other.post(RECOVERY_EMAIL, {"action": "send", "email": "megan@example.net"})
    other.post(RECOVERY_EMAIL, {"action": "verify", "code": last_mail_code("megan@example.net")})
    response = other.post(RECOVERY)
    assert response["Location"] == "/"


def test_without_password_reset_registration_ends_as_before(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENABLED)
    password_step(client, "adele@contoso.test")
    register_by_text(client)
    response = client.post(
        "/signin/register/verify/", {"action": "code", "code": last_code("+14255550100")}
    )
    assert response["Location"] == "/"
    assert client.get(RECOVERY)["Location"] == "/mfa/setup/"


@pytest.fixture
def adele(client: Client) -> DirectoryUser:
    user = make_user(
        "adele@contoso.test",
        state=MfaState.ENFORCED,
        registered=True,
    )
    client.force_login(user)
    session_proved(client)
    return user


@pytest.mark.parametrize(
    "address",
    ["adele@contoso.test", "Adele@CONTOSO.TEST", "someone@mail.contoso.test", "x@Sub.Contoso.Test"],
)
def test_addresses_in_the_tenants_own_domains_are_refused(
    client: Client, adele, address: str
) -> None:
    sspr()
    response = client.post(RECOVERY_EMAIL, {"action": "send", "email": address})
    assert response.status_code == 400
    assert "Use an address outside your organization" in text(response)
    assert mail.outbox == []
    assert not AuthenticationEmail.objects.exists()


def test_an_address_that_only_looks_like_the_tenants_domain_is_accepted(
    client: Client, adele
) -> None:
    sspr()
    for address in ("adele@notcontoso.test", "adele@contoso.test.example.net"):
        assert client.post(RECOVERY_EMAIL, {"action": "send", "email": address}).status_code == 302
        assert mails_to(address) == 1


def test_a_wrong_email_code_saves_nothing_and_five_wrong_codes_end_the_code(
    client: Client, adele
) -> None:
    sspr()
    client.post(RECOVERY_EMAIL, {"action": "send", "email": HOME})
    code = last_mail_code(HOME)
    wrong = "000000" if code != "000000" else "111111"
    for _attempt in range(5):
        page = text(client.post(RECOVERY_EMAIL, {"action": "verify", "code": wrong}, follow=True))
        assert "That code isn't right" in page
    page = text(client.post(RECOVERY_EMAIL, {"action": "verify", "code": code}, follow=True))
    assert "Too many incorrect codes" in page
    assert not AuthenticationEmail.objects.exists()


def test_reloading_the_email_code_page_after_a_wrong_code_shows_it_without_counting_again(
    client: Client, adele
) -> None:
    sspr()
    client.post(RECOVERY_EMAIL, {"action": "send", "email": HOME})
    wrong = "000000" if last_mail_code(HOME) != "000000" else "111111"
    response = client.post(RECOVERY_EMAIL, {"action": "verify", "code": wrong})
    assert response.status_code == 302 and response["Location"] == RECOVERY_EMAIL
    assert "That code isn't right" in text(client.get(RECOVERY_EMAIL))
    reloaded = text(client.get(RECOVERY_EMAIL))
    assert "That code isn't right" not in reloaded  # said once
    assert "We've sent an email message containing a verification code" in reloaded
    assert VerificationChallenge.objects.get().attempts == 1


def test_the_setup_page_offers_password_reset_info_when_it_is_missing(
    client: Client, adele
) -> None:
    assert "password reset" not in text(client.get("/mfa/setup/"))
    sspr(required=2)
    page = text(client.get("/mfa/setup/"))
    assert "Set up 2 contacts so that you can reset your own password" in page
    assert "Set up password reset info" in page
    AuthenticationEmail.objects.create(user=adele, address=HOME)
    page = text(client.get("/mfa/setup/"))
    assert "You can reset your own password if you forget it." in page
    assert HOME in page


def test_a_new_authentication_phone_is_verified_before_it_is_saved(client: Client, adele) -> None:
    sspr()
    response = client.post(
        RECOVERY_PHONE, {"auth-country": "US", "auth-phone": "425 555 0188", "auth-how": "text"}
    )
    assert response["Location"] == "/mfa/setup/verify/"
    phone = VerificationMethod.objects.get(user=adele)
    assert phone.phone_number == "+14255550123"  # not yet
    response = client.post("/mfa/setup/verify/", {"code": last_code("+14255550188")})
    assert response["Location"] == RECOVERY
    phone.refresh_from_db()
    assert phone.phone_number == "+14255550188"


def test_changing_a_contact_asks_for_the_password_after_ten_minutes(client: Client, adele) -> None:
    sspr()
    session_proved(client, ago=timedelta(minutes=11))
    response = client.post(RECOVERY_EMAIL, {"action": "send", "email": HOME})
    assert response["Location"] == "/mfa/reauthenticate/"
    assert mail.outbox == []
    response = client.post("/mfa/reauthenticate/", {"password": PASSWORD})
    assert response["Location"] == RECOVERY_EMAIL
    assert mails_to(HOME) == 1


def test_the_authentication_phone_is_verified_again_by_text_me(client: Client, adele) -> None:
    """Seed 003: *Authentication phone* → Verify → the number already there → text me →
    the code → Verify. Nothing changes but the proof."""
    sspr()
    page = text(client.get(RECOVERY_PHONE))
    assert "text me" in page and "call me" in page
    assert 'value="(425) 555-0123"' in page  # the number registered, ready to verify
    response = client.post(
        RECOVERY_PHONE, {"auth-country": "US", "auth-phone": "425 555 0123", "auth-how": "text"}
    )
    assert response["Location"] == "/mfa/setup/verify/"
    response = client.post("/mfa/setup/verify/", {"code": last_code("+14255550123")}, follow=True)
    assert "Your phone number has been verified." in text(response)
    assert VerificationMethod.objects.get(user=adele).phone_number == "+14255550123"
    assert not AuditEvent.objects.filter(target=adele, action="mfa.method_changed").exists()
