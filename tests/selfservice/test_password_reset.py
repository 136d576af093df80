"""*Forgot my password* (DESIGN §5.7): prove the required methods, choose a new password; the
same answers whether or not the user exists; sessions and remembered devices revoked."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.mfa.models import (
    AuthenticationEmail,
    MfaState,
    RememberedDevice,
    TelephonyMessage,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.remembered import remembered_device_issue, remembered_device_valid
from mfaportal.selfservice.models import Flow
from mfaportal.selfservice.views import reset as reset_views
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import (
    is_signed_in,
    last_code,
    last_mail_code,
    mails_to,
    service_set,
    text,
)

pytestmark = pytest.mark.django_db
START = "/signin/forgot-password/"
VERIFY = "/signin/forgot-password/verify/"
CODE = "/signin/forgot-password/code/"
NEW_PASSWORD = "/signin/forgot-password/new-password/"
NEW = "Remembered-At-Last-77"
EMAIL = "adele.home@example.net"
PHONE = "+14255550123"  # make_user(registered=True)


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """The even-timing floor off, for tests that don't measure time."""
    monkeypatch.setattr(reset_views, "EVEN_RESPONSE_SECONDS", 0)


def sspr(required: int = 1) -> None:
    service_set(password_reset_enabled=True, password_reset_methods_required=required)


def registered_adele(**kwargs):
    user = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True, **kwargs)
    AuthenticationEmail.objects.create(user=user, address=EMAIL)
    return user


def username(client: Client, upn: str = "adele@contoso.test"):
    return client.post(START, {"username": upn})


def by_email(client: Client, address: str = EMAIL):
    return client.post(VERIFY, {"reset-method": "email", "reset-email": address})


def by_text(client: Client, number: str = "425 555 0123", method: str = "text"):
    return client.post(
        VERIFY, {"reset-method": method, "reset-country": "US", "reset-phone": number}
    )


def enter(client: Client, code: str):
    return client.post(CODE, {"action": "code", "code": code})


def choose(client: Client, new: str = NEW):
    return client.post(NEW_PASSWORD, {"new_password": new, "confirm_password": new})


def test_forgot_my_password_is_unavailable_while_the_setting_is_off(client: Client) -> None:
    registered_adele()
    page = text(client.get(START))
    assert "doesn't let people reset their own password here" in page
    assert username(client).status_code == 200
    assert client.get(VERIFY).status_code == 200  # the same notice, nothing more
    assert mails_to(EMAIL) == 0


def test_reset_with_one_required_method_the_email_code(client: Client, quick) -> None:
    sspr(required=1)
    adele = registered_adele()
    assert username(client)["Location"] == VERIFY
    page = text(client.get(VERIFY))
    assert "verification step 1" in page and "verification step 2" not in page
    assert by_email(client, EMAIL.upper())["Location"] == CODE
    assert "It expires in 10 minutes." in text(client.get(CODE))
    assert enter(client, last_mail_code(EMAIL))["Location"] == NEW_PASSWORD
    assert "choose a new password" in text(client.get(NEW_PASSWORD))
    assert choose(client)["Location"] == "/signin/forgot-password/done/"
    assert "Your password has been reset" in text(client.get("/signin/forgot-password/done/"))
    adele.refresh_from_db()
    assert adele.check_password(NEW) and not adele.check_password(PASSWORD)
    event = AuditEvent.objects.get(target=adele, action="directory.password_reset")
    assert event.detail == {"methods_proved": ["email"]} and event.source == "self-service"


def test_reset_with_one_required_method_the_text_code(client: Client, quick) -> None:
    sspr(required=1)
    adele = registered_adele()
    username(client)
    assert by_text(client)["Location"] == CODE
    assert enter(client, last_code(PHONE))["Location"] == NEW_PASSWORD
    choose(client)
    adele.refresh_from_db()
    assert adele.check_password(NEW)


def test_reset_with_two_required_methods_needs_the_email_and_the_phone(
    client: Client, quick
) -> None:
    sspr(required=2)
    adele = registered_adele()
    username(client)
    page = text(client.get(VERIFY))
    assert "verification step 1" in page and "verification step 2" in page
    by_email(client)
    assert enter(client, last_mail_code(EMAIL))["Location"] == VERIFY
    # One proved method is not enough for the new password.
    assert client.get(NEW_PASSWORD)["Location"] == VERIFY
    page = text(client.get(VERIFY))
    assert 'value="email"' not in page and 'value="text"' in page
    by_text(client)
    assert enter(client, last_code(PHONE))["Location"] == NEW_PASSWORD
    choose(client)
    adele.refresh_from_db()
    assert adele.check_password(NEW)
    event = AuditEvent.objects.get(target=adele, action="directory.password_reset")
    assert event.detail == {"methods_proved": ["email", "phone"]}


def test_a_call_answered_with_pound_proves_the_phone(client: Client, quick) -> None:
    sspr(required=1)
    adele = registered_adele()
    username(client)
    by_text(client, method="call")
    assert "we're calling it now" in text(client.get(CODE))
    assert client.post(CODE, {"action": "check"}, HTTP_HX_REQUEST="true").status_code == 204
    call = TelephonyMessage.objects.get(to_number=PHONE, kind="call")
    client.post(f"/demo/phone/calls/{call.pk}/answer/", {"keys": "#"})
    response = client.post(CODE, {"action": "check"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == NEW_PASSWORD
    choose(client)
    adele.refresh_from_db()
    assert adele.check_password(NEW)


def test_the_call_poll_of_an_expired_reset_sends_the_page_back_to_the_start(
    client: Client, quick
) -> None:
    """Not a 302 that htmx would follow, swapping the first page into the waiting one."""
    sspr(required=1)
    registered_adele()
    username(client)
    by_text(client, method="call")
    Flow.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(CODE, {"action": "check"}, HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/signin/forgot-password/" and "Location" not in response


def test_users_who_hold_an_admin_role_always_prove_two_methods(client: Client, quick) -> None:
    sspr(required=1)
    registered_adele(admin_role=roles.GLOBAL_ADMINISTRATOR)
    username(client)
    by_email(client)
    assert enter(client, last_mail_code(EMAIL))["Location"] == VERIFY
    assert client.get(NEW_PASSWORD)["Location"] == VERIFY


def test_the_new_password_follows_the_password_rules(client: Client, quick) -> None:
    sspr(required=1)
    adele = registered_adele()
    username(client)
    by_email(client)
    enter(client, last_mail_code(EMAIL))
    assert "can't be the same as the current one" in text(choose(client, PASSWORD))
    assert "This password is too short" in text(choose(client, "Ab1"))
    adele.refresh_from_db()
    assert adele.check_password(PASSWORD)


def test_sessions_and_remembered_devices_are_revoked_after_a_reset(quick) -> None:
    sspr(required=1)
    adele = registered_adele()
    service_set(remember_devices_allowed=True, password_reset_enabled=True)
    token = remembered_device_issue(user=adele, days=14)
    signed_in = Client()
    signed_in.force_login(adele)
    assert signed_in.get("/mfa/setup/").status_code == 200
    version = adele.session_version

    stranger = Client()
    username(stranger)
    by_email(stranger)
    enter(stranger, last_mail_code(EMAIL))
    choose(stranger)

    adele.refresh_from_db()
    assert adele.session_version == version + 1
    assert signed_in.get("/mfa/setup/").status_code == 302
    assert not is_signed_in(signed_in)
    assert not remembered_device_valid(user=adele, token=token)
    assert not RememberedDevice.objects.filter(user=adele).exists()
    actions = set(AuditEvent.objects.filter(target=adele).values_list("action", flat=True))
    assert {"directory.sessions_revoked", "mfa.remembered_devices_restored"} <= actions


def test_a_contact_that_doesnt_match_sends_nothing_and_says_the_same(client: Client, quick) -> None:
    sspr(required=1)
    registered_adele()
    username(client)
    by_email(client, "someone.else@example.net")
    page = text(client.get(CODE))
    assert "If someone.else@example.net is the authentication email registered" in page
    assert mail.outbox == []
    by_text(client, "425 555 0199")
    assert not TelephonyMessage.objects.exists()
    assert "That code isn't right" in text(enter(client, "123456"))


def test_codes_are_single_use_and_expire(client: Client, quick) -> None:
    sspr(required=2)
    registered_adele()
    username(client)
    by_email(client)
    code = last_mail_code(EMAIL)
    challenge = VerificationChallenge.objects.get(channel="email", purpose="password_reset")
    VerificationChallenge.objects.filter(pk=challenge.pk).update(expires_at=timezone.now())
    assert "That request has expired" in text(enter(client, code))
    by_email(client)
    code = last_mail_code(EMAIL)
    assert enter(client, code)["Location"] == VERIFY
    # The session moved on; the used challenge can't be answered again either.
    challenge = VerificationChallenge.objects.filter(channel="email").latest("created_at")
    assert challenge.status == VerificationChallenge.Status.CONSUMED


def test_failing_reset_codes_does_not_lock_the_phone_for_sign_in(client: Client, quick) -> None:
    sspr(required=1)
    adele = registered_adele()
    username(client)
    by_text(client)
    for _attempt in range(6):
        enter(client, "000000")
    phone = VerificationMethod.objects.get(user=adele)
    assert phone.failed_attempts == 0 and phone.locked_until is None


def test_code_requests_are_limited_per_user_name(client: Client, quick) -> None:
    sspr(required=1)
    registered_adele()
    for _round in range(5):
        username(client)
        assert by_email(client)["Location"] == CODE
    username(client)
    page = text(by_email(client))
    assert "You've tried too many times" in page
    assert mails_to(EMAIL) == 5
    # An unknown name is limited the same way.
    other = Client()
    for _round in range(5):
        username(other, "nobody@contoso.test")
        by_email(other)
    username(other, "nobody@contoso.test")
    assert "You've tried too many times" in text(by_email(other))


def test_code_checks_are_limited_per_address(quick) -> None:
    sspr(required=1)
    registered_adele()
    for index in range(5):
        make_user(f"user{index}@contoso.test")
    blocked = ""
    for round_number in range(12):
        client = Client()
        username(client, f"user{round_number % 5}@contoso.test")
        by_email(client, f"x{round_number}@example.net")
        for _attempt in range(5):
            page = text(enter(client, "111111"))
            if "tried too many times" in page:
                blocked = page
                break
        if blocked:
            break
    assert blocked, "50 wrong codes from one address were never refused"


def _without_tokens(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'"X-CSRFToken": "[^"]+"', "", html)


def _walk(upn: str) -> tuple[list[tuple[int, str]], list[float]]:
    """Name → contact → a wrong code, as a stranger: answers and how long each took."""
    client = Client()
    answers, times = [], []
    for step in (
        lambda: client.post(START, {"username": upn}),
        lambda: client.get(VERIFY),
        lambda: by_email(client),
        lambda: client.get(CODE),
        lambda: enter(client, "123456"),
    ):
        started = time.perf_counter()
        response = step()
        times.append(time.perf_counter() - started)
        answers.append(
            (response.status_code, response.get("Location", "") + _without_tokens(text(response)))
        )
    return answers, times


def test_the_answers_are_the_same_whether_or_not_the_user_exists() -> None:
    sspr(required=2)
    registered_adele()
    make_user("norbert@contoso.test")  # exists, registered for nothing
    _walk("warm-up@contoso.test")  # the first request of a process pays for imports
    real, real_times = _walk("adele@contoso.test")
    assert mails_to(EMAIL) == 1  # the real one was sent a code
    unknown, unknown_times = _walk("nobody@contoso.test")
    unregistered, _times = _walk("norbert@contoso.test")
    adjust = lambda answers, name: [  # noqa: E731
        (status, text.replace(name, "USER")) for status, text in answers
    ]
    assert adjust(real, "adele@contoso.test") == adjust(unknown, "nobody@contoso.test")
    assert adjust(real, "adele@contoso.test") == adjust(unregistered, "norbert@contoso.test")
    # Similar time: each answer before a proof takes at least the floor, sent or not.
    for index in (0, 2, 4):
        assert real_times[index] >= reset_views.EVEN_RESPONSE_SECONDS
        assert unknown_times[index] >= reset_views.EVEN_RESPONSE_SECONDS
        assert abs(real_times[index] - unknown_times[index]) < 0.15


def test_the_timing_stays_even_over_repeated_tries() -> None:
    sspr(required=1)
    registered_adele()
    real: list[float] = []
    unknown: list[float] = []
    for _round in range(3):
        for upn, bucket in (("adele@contoso.test", real), ("nobody@contoso.test", unknown)):
            client = Client()
            username(client, upn)
            started = time.perf_counter()
            by_email(client)
            bucket.append(time.perf_counter() - started)
    assert abs(statistics.median(real) - statistics.median(unknown)) < 0.1
