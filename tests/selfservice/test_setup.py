"""Additional security verification at /mfa/setup/ (DESIGN §5.3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mfaportal.core.models import AuditEvent
from mfaportal.mfa.models import (
    AuthenticationEmail,
    MfaState,
    RememberedDevice,
    ThrottleBucket,
    UserMfa,
    VerificationChallenge,
    VerificationMethod,
)
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import (
    add_app,
    code_now,
    last_call,
    last_code,
    secret_from_page,
    service_set,
    session_proved,
)
from tests.statements import tables_compiled

pytestmark = pytest.mark.django_db
SETUP = "/mfa/setup/"
VERIFY_CHANGE = "/mfa/setup/verify/"
REAUTHENTICATE = "/mfa/reauthenticate/"


@pytest.fixture
def adele(client: Client):
    user = make_user(
        "adele@contoso.test",
        state=MfaState.ENFORCED,
        registered=True,
    )
    client.force_login(user)
    session_proved(client)
    return user


def form(**overrides: str) -> dict[str, str]:
    data = {
        "preferred": "OneWaySMS",
        "auth-country": "US",
        "auth-phone": "(425) 555-0123",
        "office-country": "US",
        "office-phone": "",
        "office-extension": "",
        "alt-country": "US",
        "alt-phone": "",
    }
    data.update(overrides)
    return data


def test_the_page_shows_the_preferred_option_and_the_ways_to_respond(client: Client, adele) -> None:
    page = client.get(SETUP).content.decode()
    for text in (
        "What&#x27;s your preferred option?",
        "How would you like to respond?",
        "Authentication phone",
        "Office phone",
        "Alternate authentication phone",
        "Authenticator app or Token",
        "Set up Authenticator app",
        "restore multi-factor authentication on previously trusted devices",
    ):
        assert text in page or text.replace("&#x27;", "'") in page, text
    assert '<option value="OneWaySMS" selected>' in page
    assert 'value="(425) 555-0123"' in page


def test_changing_the_preferred_option_saves_it(client: Client, adele) -> None:
    response = client.post(SETUP, form(preferred="TwoWayVoiceMobile"))
    assert response["Location"] == SETUP
    assert UserMfa.objects.get(user=adele).default_method == "TwoWayVoiceMobile"
    assert AuditEvent.objects.filter(
        action="mfa.default_method", after="TwoWayVoiceMobile"
    ).exists()


def test_a_preferred_option_the_user_has_not_registered_is_refused(client: Client, adele) -> None:
    response = client.post(SETUP, form(preferred="PhoneAppOTP"))
    assert response.status_code == 400
    assert UserMfa.objects.get(user=adele).default_method == "OneWaySMS"


def test_a_changed_phone_number_is_verified_before_it_is_saved(client: Client, adele) -> None:
    response = client.post(SETUP, form(**{"auth-phone": "425 555 0199"}))
    assert response["Location"] == "/mfa/setup/verify/"
    assert adele.methods.get().phone_number == "+14255550123"  # not yet
    code = last_code("+14255550199")
    client.post("/mfa/setup/verify/", {"code": "000000" if code != "000000" else "111111"})
    assert adele.methods.get().phone_number == "+14255550123"
    client.post("/mfa/setup/verify/", {"code": code})
    assert adele.methods.get().phone_number == "+14255550199"
    assert AuditEvent.objects.filter(action="mfa.method_changed", target=adele).exists()


def test_reloading_the_phone_code_page_after_a_wrong_code_shows_it_without_counting_again(
    client: Client, adele
) -> None:
    client.post(SETUP, form(**{"auth-phone": "425 555 0199"}))
    code = last_code("+14255550199")
    wrong = client.post(VERIFY_CHANGE, {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 302 and wrong["Location"] == VERIFY_CHANGE
    assert "That code isn" in client.get(VERIFY_CHANGE).content.decode()
    reloaded = client.get(VERIFY_CHANGE).content.decode()
    assert "That code isn" not in reloaded  # said once
    assert VerificationChallenge.objects.get().attempts == 1
    client.post(VERIFY_CHANGE, {"code": code})
    assert adele.methods.get().phone_number == "+14255550199"


def test_reloading_the_password_page_after_a_wrong_password_shows_it_without_counting_again(
    client: Client, adele
) -> None:
    session_proved(client, ago=timedelta(minutes=11))
    client.post(SETUP, form(**{"auth-phone": "425 555 0199"}))
    wrong = client.post(REAUTHENTICATE, {"password": "wrong"})
    assert wrong.status_code == 302 and wrong["Location"] == REAUTHENTICATE
    assert "Your password is incorrect." in client.get(REAUTHENTICATE).content.decode()
    assert "Your password is incorrect." not in client.get(REAUTHENTICATE).content.decode()
    assert ThrottleBucket.objects.get(key=f"reauth:user:{adele.pk}").count == 1
    response = client.post(REAUTHENTICATE, {"password": PASSWORD})
    assert response["Location"] == VERIFY_CHANGE


def test_an_office_phone_is_verified_by_a_call(client: Client, adele) -> None:
    client.post(SETUP, form(**{"office-phone": "425 555 0150", "office-extension": "77"}))
    call = last_call("+14255550150")
    assert call.extension == "77"
    client.post(f"/demo/phone/calls/{call.pk}/answer/", {"keys": "#"})
    client.post("/mfa/setup/verify/")
    assert adele.methods.get(kind="office_phone").extension == "77"


def test_two_changed_numbers_at_once_are_refused(client: Client, adele) -> None:
    response = client.post(
        SETUP, form(**{"auth-phone": "425 555 0199", "office-phone": "425 555 0150"})
    )
    assert response.status_code == 400
    assert "one phone number at a time" in response.content.decode()


def test_a_change_after_ten_minutes_asks_for_the_password_first(client: Client, adele) -> None:
    session_proved(client, ago=timedelta(minutes=11))
    response = client.post(SETUP, form(**{"auth-phone": "425 555 0199"}))
    assert response["Location"] == "/mfa/reauthenticate/"
    wrong = client.post("/mfa/reauthenticate/", {"password": "wrong"}, follow=True)
    assert "Your password is incorrect." in wrong.content.decode()
    response = client.post("/mfa/reauthenticate/", {"password": PASSWORD})
    assert response["Location"] == "/mfa/setup/verify/"
    assert last_code("+14255550199")


def test_deleting_a_method_after_ten_minutes_asks_for_the_password(client: Client, adele) -> None:
    app, _secret = add_app(adele, default=False)
    session_proved(client, ago=timedelta(minutes=30))
    response = client.post(f"/mfa/setup/methods/{app.pk}/delete/")
    assert response["Location"] == "/mfa/reauthenticate/"
    assert VerificationMethod.objects.filter(pk=app.pk).exists()
    client.post("/mfa/reauthenticate/", {"password": PASSWORD})
    assert not VerificationMethod.objects.filter(pk=app.pk).exists()


def test_the_only_method_cannot_be_deleted(client: Client, adele) -> None:
    method = adele.methods.get()
    client.post(f"/mfa/setup/methods/{method.pk}/delete/")
    assert VerificationMethod.objects.filter(pk=method.pk).exists()


def test_deleting_the_preferred_method_moves_the_preference(client: Client, adele) -> None:
    app, _secret = add_app(adele, default=True)
    client.post(f"/mfa/setup/methods/{app.pk}/delete/")
    assert UserMfa.objects.get(user=adele).default_method == "OneWaySMS"


def test_setting_up_an_authenticator_app_in_code_mode(client: Client, adele) -> None:
    response = client.post("/mfa/setup/app/", {"mode": "code"})
    assert response["Location"] == "/mfa/setup/app/configure/"
    page = client.get(response["Location"]).content.decode()
    secret = secret_from_page(page)
    client.post("/mfa/setup/app/configure/", {"action": "code", "code": code_now(secret)})
    app = adele.methods.get(kind="authenticator_app")
    assert app.app_mode == "code" and app.last_used_step is not None
    assert AuditEvent.objects.filter(action="mfa.method_registered", target=adele).exists()


def test_setting_up_an_authenticator_app_in_notification_mode(client: Client, adele) -> None:
    client.post("/mfa/setup/app/", {"mode": "notification"})
    client.post("/mfa/setup/app/configure/", {"action": "send"})
    challenge = adele.challenges.get(channel="app_notification", status="pending")
    assert challenge.match_number in client.get("/mfa/setup/app/configure/").content.decode()
    client.post(
        f"/demo/authenticator/requests/{challenge.pk}/",
        {"action": "approve", "number": challenge.match_number},
    )
    client.post("/mfa/setup/app/configure/", {"action": "check"})
    assert adele.methods.get(kind="authenticator_app").app_mode == "notification"


def test_restore_trusted_devices(client: Client, adele) -> None:
    RememberedDevice.objects.create(
        user=adele, digest="a" * 64, expires_at=timezone.now() + timedelta(days=3)
    )
    client.post("/mfa/setup/restore/")
    assert not RememberedDevice.objects.filter(user=adele).exists()
    assert UserMfa.objects.get(user=adele).remember_devices_not_issued_before is not None
    assert AuditEvent.objects.filter(
        action="mfa.remembered_devices_restored", source="self-service"
    ).exists()


def test_a_user_cannot_see_or_delete_another_users_methods(client: Client, adele) -> None:
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED)
    theirs, _secret = add_app(megan)
    make_user("other@contoso.test", state=MfaState.ENFORCED, registered=True)
    assert "Test phone" not in client.get(SETUP).content.decode()
    assert client.post(f"/mfa/setup/methods/{theirs.pk}/delete/").status_code == 404
    assert VerificationMethod.objects.filter(pk=theirs.pk).exists()


def test_the_setup_pages_need_a_signed_in_user(client: Client) -> None:
    for url in (SETUP, "/mfa/app-passwords/", "/mfa/setup/app/", "/mfa/reauthenticate/"):
        assert client.get(url)["Location"].startswith("/signin/?next=")


def test_each_country_picker_lists_every_country_once_with_its_own_choice_selected(
    client: Client, adele
) -> None:
    """The pickers are drawn from options escaped once per language (issue 15): each still
    selects its own form's country, and a reader in Spanish gets Spanish names."""
    from mfaportal.mfa.phones import countries

    # A number that is not one: the page comes back with what was chosen.
    choices = {"auth-phone": "12", "office-country": "GB", "alt-country": "FR"}
    response = client.post(SETUP, form(**choices))
    assert response.status_code == 400
    page = response.content.decode()
    pickers = page.split('name="auth-country"', 1)[1].split("</select>")[:1]
    pickers += page.split('name="office-country"', 1)[1].split("</select>")[:1]
    pickers += page.split('name="alt-country"', 1)[1].split("</select>")[:1]
    for picker, chosen in zip(pickers, ("US", "GB", "FR"), strict=True):
        assert picker.count("<option ") == len(countries())
        assert picker.count(" selected>") == 1
        assert f'<option value="{chosen}" selected>' in picker
    spanish = client.get(SETUP, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert ">Alemania (+49)</option>" in spanish
    assert ">Germany (+49)</option>" in client.get(SETUP).content.decode()


def test_a_country_that_is_not_in_the_picker_is_refused_and_nothing_is_saved(
    client: Client, adele
) -> None:
    """The country list is built only when a form checks a choice (issue 15): it is still
    checked, and a forged value is shown back escaped, selecting nothing."""
    before = list(VerificationMethod.objects.filter(user=adele).values_list("phone_number"))
    forged = 'ZZ"><script>'
    response = client.post(SETUP, form(**{"office-country": forged, "office-phone": "4255550199"}))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Check the phone numbers below." in page
    assert "<script>" not in page.split('name="office-country"', 1)[1].split("</select>")[0]
    office = page.split('name="office-country"', 1)[1].split("</select>")[0]
    assert " selected>" not in office
    assert list(VerificationMethod.objects.filter(user=adele).values_list("phone_number")) == before


@pytest.mark.parametrize("password_reset", [True, False])
def test_the_page_reads_what_it_shows_once(
    client: Client, adele, django_assert_num_queries, password_reset: bool
) -> None:
    """Issue 15: the session, the user, the service settings, the MFA row with the
    authentication email and whether a hardware token waits (one statement), and the methods
    (once, for the forms, the lists and the password-reset summary)."""
    add_app(adele, default=False)
    AuthenticationEmail.objects.create(
        user=adele, address="adele@fabrikam.example", verified_at=timezone.now()
    )
    service_set(password_reset_enabled=password_reset, app_passwords_allowed=True)
    client.get(SETUP)
    with django_assert_num_queries(5):
        page = client.get(SETUP).content.decode()
    assert ('href="/mfa/app-passwords/"' in page) is True
    assert ("ad*****@fa*****.example" in page or "adele@fabrikam.example" in page) is password_reset
    assert ("+1 425-555-0123" in page) is password_reset


def test_a_person_the_directory_has_no_mfa_row_or_email_for_sees_disabled_and_not_configured(
    client: Client, django_assert_num_queries
) -> None:
    """A user synced from the directory who never had a state set: the page says Disabled and
    offers the password reset contacts as not configured, in the same five queries, and
    reads neither row again."""
    newcomer = make_user("newcomer@contoso.test")
    UserMfa.objects.filter(user=newcomer).delete()
    client.force_login(newcomer)
    session_proved(client)
    service_set(password_reset_enabled=True)
    client.get(SETUP)
    with django_assert_num_queries(5):
        page = client.get(SETUP).content.decode()
    assert "state-disabled" in page
    assert page.count("not configured") == 2
    assert not UserMfa.objects.filter(user=newcomer).exists()  # viewing the page writes none


def test_the_page_compiles_its_reads_once(client: Client, adele) -> None:
    """Issue 15: the settings, the MFA row, the methods, the hardware tokens waiting and the
    authentication email are read by statements compiled once; a change still shows at
    once."""
    from mfaportal.mfa.models import HardwareOathToken

    service_set(password_reset_enabled=True)
    client.get(SETUP)
    with tables_compiled() as compiled:
        assert "Activate your hardware token" not in client.get(SETUP).content.decode()
    assert compiled == []  # the session too (core.sessions)
    HardwareOathToken.objects.create(
        user=adele, serial_number="SN-1", secret_ciphertext=b"x", secret_key_id="k"
    )
    UserMfa.objects.filter(user=adele).update(state=MfaState.ENABLED)
    page = client.get(SETUP).content.decode()
    assert "Activate your hardware token" in page and "state-enabled" in page


def test_a_wrong_number_is_shown_back_tied_to_its_field_with_the_office_extension(
    client: Client, adele
) -> None:
    """The phone rows are drawn by a tag (issue 15), with the same markup: labels, the
    number's error announced with it, the office phone's extension."""
    response = client.post(
        SETUP, form(**{"office-phone": "12", "office-extension": "77", "alt-country": "GB"})
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert '<label for="id_office-phone">Phone number</label>' in page
    assert (
        '<input id="id_office-phone" name="office-phone" type="tel" autocomplete="tel-national"'
        ' value="12" aria-invalid="true" aria-describedby="id_office-phone_error">'
    ) in page
    assert '<span class="errorlist" id="id_office-phone_error">' in page
    assert '<label for="id_office-extension">Extension</label>' in page
    assert 'name="office-extension" type="text" inputmode="numeric" value="77"' in page
    assert 'id="id_alt-extension"' not in page and 'id="id_auth-extension"' not in page
    assert '<select id="id_alt-country" name="alt-country">' in page
