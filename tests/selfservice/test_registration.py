"""The registration wizard, every path end to end (DESIGN §5.2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core.models import AuditEvent
from mfaportal.mfa import totp
from mfaportal.mfa.models import (
    AppPassword,
    MfaState,
    TelephonyMessage,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.selectors import user_summary
from mfaportal.mfa.services.app_passwords import app_password_digest
from mfaportal.selfservice.models import Flow
from tests.factories import make_user
from tests.selfservice.helpers import (
    code_now,
    is_signed_in,
    last_call,
    last_code,
    password_step,
    secret_from_page,
    service_set,
    text,
)

pytestmark = pytest.mark.django_db


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, "not on the page"
    return found.group(1)


REGISTER = "/signin/register/"
APP = "/signin/register/mobile-app/"
VERIFY = "/signin/register/verify/"
APP_PASSWORDS_STEP = "/signin/register/app-passwords/"


def start(client: Client, state: MfaState = MfaState.ENABLED, upn: str = "adele@contoso.test"):
    user = make_user(upn, state=state)
    password_step(client, upn)
    return user


def contact_phone(client: Client, number: str = "425 555 0100", how: str = "text"):
    return client.post(
        REGISTER,
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": number,
            "auth-how": how,
        },
    )


def methods(user) -> list[tuple[str, str, str]]:
    return sorted(
        VerificationMethod.objects.filter(user=user).values_list(
            "kind", "phone_number", "extension"
        )
    )


def test_step_one_offers_a_country_picker_with_calling_codes(client: Client) -> None:
    start(client)
    page = client.get(REGISTER).content.decode()
    assert "Step 1: How should we contact you?" in page
    assert '<option value="US" selected>United States (+1)</option>' in page
    assert "Germany (+49)" in page and "Japan (+81)" in page


def test_a_spanish_reader_picks_a_country_by_its_spanish_name(client: Client) -> None:
    start(client)
    page = client.get(REGISTER, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert '<option value="US" selected>Estados Unidos (+1)</option>' in page
    assert "Alemania (+49)" in page and "Germany" not in page
    # Regions the phone library cannot name are named by the portal, in Spanish too.
    assert '<option value="AC">Isla Ascensión (+247)</option>' in page
    # Sorted as a Spanish reader expects: accents do not push a name to the end.
    names = re.findall(r'<option value="[A-Z]{2}"[^>]*>([^<(]+) \(', page)
    assert names.index("Alemania") < names.index("Bélgica") < names.index("Brasil")
    assert names.index("Emiratos Árabes Unidos") < names.index("Eslovaquia")


def test_authentication_phone_by_text_registers_and_enforces(client: Client) -> None:
    user = start(client)
    response = contact_phone(client)
    assert response["Location"] == VERIFY
    page = client.get(VERIFY).content.decode()
    assert "Step 2: We've sent a text message to your phone" in page
    assert "+1 425-555-0100" in page
    assert not is_signed_in(client)
    response = client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    assert response.status_code == 302 and is_signed_in(client)
    assert methods(user) == [("authentication_phone", "+14255550100", "")]
    summary = user_summary(user)
    assert summary["mfaState"] == "Enforced"
    assert summary["strongAuthenticationMethods"][0] == {
        "methodType": "OneWaySMS",
        "isDefault": True,
    }
    assert AuditEvent.objects.filter(target=user, action="mfa.registration_completed").exists()


def test_a_number_that_is_not_valid_for_the_country_is_refused(client: Client) -> None:
    start(client)
    page = contact_phone(client, number="12").content.decode()
    assert "That isn&#x27;t a valid phone number for the country or region you chose." in page
    assert not TelephonyMessage.objects.exists()


def test_numbers_are_stored_in_e164_whatever_way_they_are_typed(client: Client) -> None:
    user = start(client)
    client.post(
        REGISTER,
        {
            "contact": "authentication_phone",
            "auth-country": "GB",
            "auth-phone": "020 7946 0018",
            "auth-how": "text",
        },
    )
    client.post(VERIFY, {"action": "code", "code": last_code("+442079460018")})
    assert methods(user) == [("authentication_phone", "+442079460018", "")]


def test_a_mistake_in_the_chosen_phone_marks_only_that_phone(client: Client) -> None:
    user = start(client)
    page = client.post(
        REGISTER,
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "12",
            "auth-how": "text",
            "office-country": "US",
            "office-phone": "",
        },
    ).content.decode()
    assert (
        'id="id_auth-phone" name="auth-phone" type="tel" autocomplete="tel-national" value="12" aria-invalid="true"'
        in page
    )
    assert page.count('aria-invalid="true"') == 1
    assert methods(user) == []


def test_authentication_phone_by_call_is_verified_by_pressing_pound(client: Client) -> None:
    user = start(client)
    contact_phone(client, how="call")
    assert "Answer it and press the pound (#) key" in client.get(VERIFY).content.decode()
    call = last_call("+14255550100")
    assert client.post(VERIFY, {"action": "check"}, HTTP_HX_REQUEST="true").status_code == 204
    client.post(f"/demo/phone/calls/{call.pk}/answer/", {"keys": "#"})
    response = client.post(VERIFY, {"action": "check"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/" and is_signed_in(client)
    assert UserMfa.objects.get(user=user).default_method == "TwoWayVoiceMobile"


def test_office_phone_with_an_extension_is_called(client: Client) -> None:
    user = start(client)
    client.post(
        REGISTER,
        {
            "contact": "office_phone",
            "office-country": "US",
            "office-phone": "(425) 555-0150",
            "office-extension": "1234",
        },
    )
    call = last_call("+14255550150")
    assert call.extension == "1234"
    client.post(f"/demo/phone/calls/{call.pk}/answer/", {"keys": "#"})
    client.post(VERIFY, {"action": "check"})
    assert methods(user) == [("office_phone", "+14255550150", "1234")]
    assert UserMfa.objects.get(user=user).default_method == "TwoWayVoiceOffice"
    assert is_signed_in(client)


def _app_and_backup(client: Client, mode: str) -> str:
    response = client.post(REGISTER, {"contact": "mobile_app", "app-mode": mode, "action": "setup"})
    assert response["Location"] == "/signin/register/mobile-app/"
    page = client.get(response["Location"]).content.decode()
    assert "Configure mobile app" in page and "<svg" in page
    assert "MFA Portal (contoso.test):adele@contoso.test" in page
    return secret_from_page(page)


def _finished_then_contact_me(client: Client, mode: str) -> None:
    """*Finished* on Configure mobile app goes back to step 1, where *Contact me* starts
    the verification (seed 000)."""
    assert client.post(APP)["Location"] == REGISTER
    page = client.get(REGISTER).content.decode()
    assert "Mobile app has been configured for notifications and verification codes." in page
    response = client.post(REGISTER, {"contact": "mobile_app", "app-mode": mode})
    assert response["Location"] == VERIFY


def _backup_phone(client: Client) -> None:
    page = client.get("/signin/register/backup-phone/").content.decode()
    assert "Step 3: In case you lose access to the mobile app" in page
    client.post(
        "/signin/register/backup-phone/",
        {"backup-country": "US", "backup-phone": "4255550177", "backup-how": "text"},
    )
    client.post(VERIFY, {"action": "code", "code": last_code("+14255550177")})


def test_mobile_app_in_code_mode_with_a_backup_phone(client: Client) -> None:
    user = start(client)
    secret = _app_and_backup(client, "code")
    _finished_then_contact_me(client, "code")
    assert (
        "Step 2: Enter the verification code from the mobile app"
        in client.get(VERIFY).content.decode()
    )
    wrong = client.post(
        VERIFY, {"action": "code", "code": "000000" if code_now(secret) != "000000" else "111111"}
    )
    assert wrong["Location"] == VERIFY  # POST/redirect/GET
    assert "That code isn&#x27;t right" in client.get(VERIFY).content.decode()
    assert "That code isn&#x27;t right" not in client.get(VERIFY).content.decode()  # said once
    response = client.post(VERIFY, {"action": "code", "code": code_now(secret)})
    assert response["Location"] == "/signin/register/backup-phone/"
    assert not is_signed_in(client)
    _backup_phone(client)
    assert is_signed_in(client)
    app = VerificationMethod.objects.get(user=user, kind="authenticator_app")
    assert app.app_mode == "code"
    assert app.last_used_step in (totp.current_step(), totp.current_step() - 1)
    assert app.secret_ciphertext is not None and secret.encode() not in bytes(app.secret_ciphertext)
    assert (
        totp.secret_open(
            app.secret_ciphertext, key_id=app.secret_key_id, object_id=str(user.object_id)
        )
        == secret
    )
    assert ("authentication_phone", "+14255550177", "") in methods(user)
    assert UserMfa.objects.get(user=user).default_method == "PhoneAppOTP"
    assert UserMfa.objects.get(user=user).state == MfaState.ENFORCED


def test_the_code_used_to_register_the_app_cannot_be_replayed_at_the_next_sign_in(
    client: Client,
) -> None:
    user = start(client)
    secret = _app_and_backup(client, "code")
    _finished_then_contact_me(client, "code")
    code = code_now(secret)
    client.post(VERIFY, {"action": "code", "code": code})
    _backup_phone(client)
    client.post(reverse("signout"))
    password_step(client, "adele@contoso.test")
    page = client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": code}, follow=True
    ).content.decode()
    assert "already been used" in page
    assert not is_signed_in(client)
    del user


def test_mobile_app_in_notification_mode_is_verified_by_a_first_approval(client: Client) -> None:
    user = start(client)
    _app_and_backup(client, "notification")
    _finished_then_contact_me(client, "notification")
    page = client.get(VERIFY).content.decode()
    assert "Approve the request in your app" in page
    challenge = user.challenges.get(channel="app_notification", status="pending")
    assert challenge.match_number in page
    # The authenticator simulator (this browser is halfway through signing in as Adele).
    assert "Approve sign in request?" in client.get("/demo/authenticator/").content.decode()
    # A wrong number denies the request; the right one approves it.
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    response = client.post(VERIFY, {"action": "check"})
    assert response["Location"] == "/signin/register/backup-phone/"
    _backup_phone(client)
    assert UserMfa.objects.get(user=user).default_method == "PhoneAppNotification"
    assert is_signed_in(client)


def test_mobile_app_without_phone_methods_allowed_skips_the_backup_phone(client: Client) -> None:
    service_set(method_text=False, method_call=False)
    user = start(client)
    page = client.get(REGISTER).content.decode()
    assert 'value="authentication_phone" disabled' in page
    secret = _app_and_backup(client, "code")
    _finished_then_contact_me(client, "code")
    response = client.post(VERIFY, {"action": "code", "code": code_now(secret)})
    assert response["Location"] == "/" and is_signed_in(client)
    assert methods(user) == [("authenticator_app", "", "")]


def test_a_phone_only_enrolment_keeps_using_existing_applications_at_step_3(
    client: Client,
) -> None:
    service_set(app_passwords_allowed=True)
    user = start(client)
    contact_phone(client)
    response = client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    assert response["Location"] == APP_PASSWORDS_STEP
    page = text(client.get(APP_PASSWORDS_STEP))
    # Numbered as the steps shown: contact, verify, this. No "Step 4".
    assert "Step 3: Keep using your existing applications" in page and "Step 4" not in page
    assert "your password works only in a web browser" in page
    assert not AppPassword.objects.filter(user=user).exists()  # nothing until chosen
    assert not is_signed_in(client)


def test_the_app_password_created_at_registration_is_shown_once(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    user = start(client)
    contact_phone(client)
    client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    response = client.post(APP_PASSWORDS_STEP, {"action": "create", "name": "Outlook"})
    assert response["Location"] == APP_PASSWORDS_STEP  # POST/redirect/GET
    page = client.get(APP_PASSWORDS_STEP).content.decode()
    value = _match(r'id="app-password" class="app-password">([a-z]{16})<', page)
    assert AppPassword.objects.get(user=user).digest == app_password_digest(value)
    assert value not in str(dict(client.session))
    # A reload, or Back and Create again, shows it no more and creates nothing.
    again = text(client.get(APP_PASSWORDS_STEP))
    assert value not in again and "was shown once and is no longer shown" in again
    client.post(APP_PASSWORDS_STEP, {"action": "create", "name": "Outlook"})
    assert AppPassword.objects.filter(user=user).count() == 1
    response = client.post(APP_PASSWORDS_STEP, {"action": "done"})
    assert response["Location"] == "/" and is_signed_in(client)


def test_saying_no_app_will_be_used_creates_nothing_and_is_remembered(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    user = start(client)
    contact_phone(client)
    client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    response = client.post(APP_PASSWORDS_STEP, {"action": "decline"})
    assert response["Location"] == "/" and is_signed_in(client)
    assert not AppPassword.objects.filter(user=user).exists()
    assert UserMfa.objects.get(user=user).app_passwords_declined_at is not None
    assert AuditEvent.objects.filter(target=user, action="mfa.app_passwords_declined").exists()
    # The app passwords tab remembers the choice, and creating one there changes it.
    page = text(client.get("/mfa/app-passwords/"))
    assert "You said that no app like these would use your account" in page
    client.post("/mfa/app-passwords/", {"name": "Outlook after all"})
    assert UserMfa.objects.get(user=user).app_passwords_declined_at is None
    assert "You said that no app like these" not in text(client.get("/mfa/app-passwords/"))


def test_an_app_user_keeps_using_existing_applications_at_step_4(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    start(client)
    secret = _app_and_backup(client, "code")
    _finished_then_contact_me(client, "code")
    client.post(VERIFY, {"action": "code", "code": code_now(secret)})
    _backup_phone(client)
    assert "Step 4: Keep using your existing applications" in text(client.get(APP_PASSWORDS_STEP))


def test_back_to_a_step_already_done_goes_where_the_registration_stands(client: Client) -> None:
    service_set(app_passwords_allowed=True)
    user = start(client)
    contact_phone(client)
    code = last_code("+14255550100")
    client.post(VERIFY, {"action": "code", "code": code})
    # Back to step 2 and Verify again: nothing happens twice.
    assert client.get(VERIFY)["Location"] == APP_PASSWORDS_STEP
    assert client.post(VERIFY, {"action": "code", "code": code})["Location"] == APP_PASSWORDS_STEP
    assert client.post(REGISTER, {"contact": "authentication_phone"})["Location"] == (
        APP_PASSWORDS_STEP
    )
    client.post(APP_PASSWORDS_STEP, {"action": "decline"})
    # Signed in: Back into the wizard goes home, with no "took too long" message.
    response = client.get(VERIFY)
    assert response["Location"] == "/" and is_signed_in(client)
    assert AuditEvent.objects.filter(target=user, action="mfa.registration_completed").count() == 1


def test_no_app_password_step_when_the_admin_disallows_them(client: Client) -> None:
    service_set(app_passwords_allowed=False)
    user = start(client)
    contact_phone(client)
    response = client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    assert response["Location"] == "/"
    assert not AppPassword.objects.filter(user=user).exists()


def test_registering_while_enforced_keeps_enforced_and_clears_must_register(client: Client) -> None:
    user = start(client, state=MfaState.ENFORCED)
    UserMfa.objects.filter(user=user).update(must_register=True)
    contact_phone(client)
    client.post(VERIFY, {"action": "code", "code": last_code("+14255550100")})
    mfa = UserMfa.objects.get(user=user)
    assert mfa.state == MfaState.ENFORCED and not mfa.must_register


def test_nothing_is_saved_when_registration_is_abandoned(client: Client) -> None:
    user = start(client)
    secret = _app_and_backup(client, "code")
    _finished_then_contact_me(client, "code")
    client.post(VERIFY, {"action": "code", "code": code_now(secret)})
    # Walks away at the backup phone step.
    assert not VerificationMethod.objects.filter(user=user).exists()
    assert UserMfa.objects.get(user=user).state == MfaState.ENABLED


def test_a_registration_code_expires_with_the_sign_in(client: Client) -> None:
    start(client)
    contact_phone(client)
    code = last_code("+14255550100")
    Flow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(VERIFY, {"action": "code", "code": code})
    assert response["Location"] == reverse("signin") and not is_signed_in(client)


def test_pages_showing_a_key_or_code_are_never_cached(client: Client) -> None:
    start(client)
    client.post(REGISTER, {"contact": "mobile_app", "app-mode": "code", "action": "setup"})
    response = client.get("/signin/register/mobile-app/")
    assert "no-store" in response["Cache-Control"]


def test_the_qr_code_on_the_page_matches_the_manual_key_on_the_page(client: Client) -> None:
    import segno

    from tests.mfa.test_totp import matrix_modules, svg_modules

    start(client)
    client.post(REGISTER, {"contact": "mobile_app", "app-mode": "code", "action": "setup"})
    page = client.get("/signin/register/mobile-app/").content.decode()
    secret = secret_from_page(page)
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    uri = totp.provisioning_uri(secret, account_name="adele@contoso.test")
    assert svg_modules(svg) == matrix_modules(segno.make(uri, error=totp.QR_ERROR, micro=False))
