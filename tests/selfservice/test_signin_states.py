"""Sign-in by MFA state (DESIGN §3): Disabled → in; Enabled/unregistered → More information
required; Enforced → a challenge; trusted IPs and remembered devices skip it."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.mfa.models import MfaState, RememberedDevice, UserMfa, VerificationMethod
from mfaportal.mfa.remembered import remembered_device_cookie_name
from mfaportal.mfa.services import remembered_devices_restore
from mfaportal.selfservice.models import Flow
from tests.factories import make_user
from tests.selfservice.helpers import (
    add_app,
    code_now,
    is_signed_in,
    last_code,
    password_step,
    service_set,
)
from tests.statements import tables_compiled

pytestmark = pytest.mark.django_db


def test_disabled_user_signs_in_with_the_password_alone(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.DISABLED)
    response = password_step(client, "adele@contoso.test")
    assert response.status_code == 302 and response["Location"] == "/"
    assert is_signed_in(client)


def test_enabled_user_without_methods_is_asked_for_more_information(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENABLED)
    response = password_step(client, "adele@contoso.test")
    assert response["Location"] == reverse("signin_flow:more_information")
    assert not is_signed_in(client)
    page = client.get(response["Location"]).content.decode()
    assert "More information required" in page
    assert "Your organization needs more information to keep your account secure." in page


def test_enforced_user_who_never_registered_registers_first(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED)
    assert password_step(client, "adele@contoso.test")["Location"] == reverse(
        "signin_flow:more_information"
    )


def test_user_asked_to_provide_contact_methods_again_registers_again(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    UserMfa.objects.filter(user=user).update(must_register=True)
    assert password_step(client, "adele@contoso.test")["Location"] == reverse(
        "signin_flow:more_information"
    )


def test_enforced_user_gets_a_text_code_challenge_and_is_signed_in_after_it(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    response = password_step(client, "adele@contoso.test")
    assert response["Location"] == reverse("signin_flow:verify")
    assert not is_signed_in(client)
    page = client.get(response["Location"]).content.decode()
    assert "Enter code" in page and "+1 XXXXXXXX23" in page
    before = client.session.session_key
    response = client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": last_code("+14255550123")}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert is_signed_in(client)
    assert client.session.session_key != before


def test_a_wrong_code_keeps_the_user_signed_out_with_a_clear_message(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    password_step(client, "adele@contoso.test")
    client.get(reverse("signin_flow:verify"))
    code = last_code("+14255550123")
    wrong = "000000" if code != "000000" else "111111"
    response = client.post(reverse("signin_flow:verify"), {"action": "code", "code": wrong})
    # POST/redirect/GET: a reload of the page that says so never posts the code again.
    assert response["Location"] == reverse("signin_flow:verify")
    page = client.get(response["Location"]).content.decode()
    assert "That code isn&#x27;t right." in page
    assert "That code isn&#x27;t right." not in client.get(response["Location"]).content.decode()
    assert not is_signed_in(client)


def test_enforced_user_with_an_app_enters_the_code_from_the_app(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _method, secret = add_app(user, mode="code")
    password_step(client, "adele@contoso.test")
    assert (
        "Enter the code displayed in the authenticator app"
        in client.get(reverse("signin_flow:verify")).content.decode()
    )
    response = client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": code_now(secret)}
    )
    assert response["Location"] == "/" and is_signed_in(client)


def test_the_challenge_page_reads_the_sign_in_and_the_methods_once(
    client: Client, django_assert_max_num_queries
) -> None:
    """Issue 15: the page costs the session, the sign-in under way (read once, though both
    the temporary-password check and the page ask for it), its user, the service settings
    and the user's methods (once, for the options and the one on screen)."""
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    add_app(user, mode="code")
    password_step(client, "adele@contoso.test")
    client.get(reverse("signin_flow:verify"))
    with django_assert_max_num_queries(5):
        page = client.get(reverse("signin_flow:verify")).content.decode()
    assert "Enter the code displayed in the authenticator app" in page


def test_the_challenge_page_compiles_its_reads_once(client: Client) -> None:
    """Issue 15: building and compiling a statement cost the ORM several times what running
    it does. The sign-in under way, its user, the service settings and the methods are read
    by statements compiled once; each page view only binds its values."""
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    add_app(user, mode="code")
    password_step(client, "adele@contoso.test")
    client.get(reverse("signin_flow:verify"))
    with tables_compiled() as compiled:
        page = client.get(reverse("signin_flow:verify")).content.decode()
    assert "Enter the code displayed in the authenticator app" in page
    assert compiled == []  # the session too (core.sessions)
    # A change shows at once: nothing is kept between requests but the statements.
    VerificationMethod.objects.filter(user=user).delete()
    add_app(user, mode="notification")
    assert "Approve sign in request" in client.get(reverse("signin_flow:verify")).content.decode()


def test_other_verification_options_lists_every_registered_option(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    _method, secret = add_app(user, mode="notification")
    password_step(client, "adele@contoso.test")
    page = client.get(reverse("signin_flow:verify")).content.decode()
    assert "Approve sign in request" in page and "Other verification options" in page
    other = client.get(reverse("signin_flow:verify_other")).content.decode()
    for label in (
        "Text +1 XXXXXXXX23",
        "Call +1 XXXXXXXX23",
        "Approve a request on Test phone",
        "Use a verification code from Test phone",
    ):
        assert label in other
    method_id = user.methods.get(kind="authenticator_app").pk
    client.post(reverse("signin_flow:verify_other"), {"option": f"PhoneAppOTP:{method_id}"})
    response = client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": code_now(secret)}
    )
    assert response["Location"] == "/" and is_signed_in(client)


def test_options_the_admin_switched_off_are_not_offered(client: Client) -> None:
    service_set(method_text=False)
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    password_step(client, "adele@contoso.test")
    page = client.get(reverse("signin_flow:verify")).content.decode()
    assert "Answer the call" in page
    assert "Text +1" not in client.get(reverse("signin_flow:verify_other")).content.decode()


def test_next_survives_the_challenge_and_is_checked(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _method, secret = add_app(user)
    password_step(client, "adele@contoso.test", next_url="/mfa/setup/")
    response = client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": code_now(secret)}
    )
    assert response["Location"] == "/mfa/setup/"
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    password_step(client, "adele@contoso.test", next_url="https://evil.test/")
    response = client.post(
        reverse("signin_flow:verify"), {"action": "code", "code": code_now(secret, 1)}
    )
    assert response["Location"] == "/"


def test_the_password_step_rotates_the_session_key(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.get(reverse("signin"))
    client.session.save()
    planted = client.session.session_key
    password_step(client, "adele@contoso.test")
    assert client.session.session_key != planted


def test_a_half_finished_sign_in_expires(client: Client) -> None:
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    password_step(client, "adele@contoso.test")
    Flow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("signin_flow:verify"))
    assert response["Location"] == reverse("signin")


def test_the_challenge_pages_refuse_anyone_who_has_not_given_the_password(client: Client) -> None:
    for name in (
        "signin_flow:verify",
        "signin_flow:verify_other",
        "signin_flow:register",
        "signin_flow:more_information",
    ):
        assert client.get(reverse(name))["Location"] == reverse("signin")


def test_trusted_ip_ranges_skip_the_second_factor(client: Client) -> None:
    service_set(trusted_ip_ranges="203.0.113.0/24\n2001:db8::/32\nnot a range")
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    inside = password_step(client, "adele@contoso.test", REMOTE_ADDR="203.0.113.77")
    assert inside["Location"] == "/" and is_signed_in(client)
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    v6 = password_step(client, "adele@contoso.test", REMOTE_ADDR="2001:db8::5")
    assert v6["Location"] == "/"
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    outside = password_step(client, "adele@contoso.test", REMOTE_ADDR="198.51.100.1")
    assert outside["Location"] == reverse("signin_flow:verify")


def test_trusted_ip_does_not_skip_registration(client: Client) -> None:
    service_set(trusted_ip_ranges="203.0.113.0/24")
    make_user("adele@contoso.test", state=MfaState.ENABLED)
    response = password_step(client, "adele@contoso.test", REMOTE_ADDR="203.0.113.77")
    assert response["Location"] == reverse("signin_flow:more_information")


def _sign_in_remembering(client: Client, secret: str) -> SimpleCookie:
    password_step(client, "adele@contoso.test")
    response = client.post(
        reverse("signin_flow:verify"),
        {"action": "code", "code": code_now(secret), "remember": "on"},
    )
    assert is_signed_in(client)
    return response.cookies


def test_dont_ask_again_skips_the_challenge_on_this_browser_only(client: Client) -> None:
    service_set(remember_devices_allowed=True, remember_devices_days=14)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _method, secret = add_app(user)
    cookies = _sign_in_remembering(client, secret)
    name = remembered_device_cookie_name(user)
    cookie = cookies[name]
    assert cookie["httponly"] and cookie["max-age"] == 14 * 86400
    stored = RememberedDevice.objects.get(user=user)
    assert cookie.value not in stored.digest  # only a keyed hash is kept
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    assert password_step(client, "adele@contoso.test")["Location"] == "/"
    other_browser = Client()
    assert password_step(other_browser, "adele@contoso.test")["Location"] == reverse(
        "signin_flow:verify"
    )


def test_a_remembered_device_token_is_bound_to_its_user(client: Client) -> None:
    service_set(remember_devices_allowed=True)
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _m, secret = add_app(adele)
    cookies = _sign_in_remembering(client, secret)
    token = cookies[remembered_device_cookie_name(adele)].value
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    megan = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.cookies[remembered_device_cookie_name(megan)] = token
    assert password_step(client, "megan@contoso.test")["Location"] == reverse("signin_flow:verify")


def test_an_expired_remembered_device_asks_again(client: Client) -> None:
    service_set(remember_devices_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _m, secret = add_app(user)
    _sign_in_remembering(client, secret)
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    RememberedDevice.objects.filter(user=user).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert password_step(client, "adele@contoso.test")["Location"] == reverse("signin_flow:verify")


def test_restoring_remembered_devices_asks_again(client: Client) -> None:
    service_set(remember_devices_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _m, secret = add_app(user)
    _sign_in_remembering(client, secret)
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    remembered_devices_restore(
        users=type(user).objects.filter(pk=user.pk), context=_admin_context()
    )
    assert password_step(client, "adele@contoso.test")["Location"] == reverse("signin_flow:verify")


def test_a_device_remembered_before_the_not_issued_before_time_is_refused(client: Client) -> None:
    service_set(remember_devices_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _m, secret = add_app(user)
    _sign_in_remembering(client, secret)
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    UserMfa.objects.filter(user=user).update(remember_devices_not_issued_before=timezone.now())
    assert password_step(client, "adele@contoso.test")["Location"] == reverse("signin_flow:verify")


def test_remembering_is_not_offered_or_honoured_when_the_admin_turns_it_off(client: Client) -> None:
    service_set(remember_devices_allowed=True)
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED)
    _m, secret = add_app(user)
    _sign_in_remembering(client, secret)
    client.post(reverse("signout"))  # keeps the browser's cookies, unlike client.logout()
    service_set(remember_devices_allowed=False)
    response = password_step(client, "adele@contoso.test")
    assert response["Location"] == reverse("signin_flow:verify")
    assert "Don&#x27;t ask again" not in client.get(response["Location"]).content.decode()


def test_a_user_blocked_after_a_fraud_report_cannot_sign_in(client: Client) -> None:
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    UserMfa.objects.filter(user=user).update(blocked_for_fraud_at=timezone.now())
    page = password_step(client, "adele@contoso.test").content.decode()
    assert "blocked from signing in because a fraud report" in page
    assert not is_signed_in(client)


def _admin_context():
    from mfaportal.core.audit import ChangeContext
    from mfaportal.core.models import AuditSource

    return ChangeContext(actor=None, source=AuditSource.CLI)
