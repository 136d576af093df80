"""No secret, code or app password ever reaches a log (privacyIDEA's scan, in spirit).

Every logger is captured at DEBUG while a person registers an app, signs in with a text
code and a TOTP code, creates an app password and uses it on /legacy/auth, and fails a few
times on the way; then the whole log is searched for each secret that went by.
"""

from __future__ import annotations

import base64
import logging
import re
import time

import pyotp
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.mfa import totp
from mfaportal.mfa.models import HardwareOathToken, MfaState, RememberedDevice, SignInEvent
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import (
    code_now,
    last_code,
    password_step,
    secret_from_page,
    service_set,
)

pytestmark = pytest.mark.django_db


def _match(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, "not on the page"
    return found.group(1)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    levels = {
        name: logging.getLogger(name).level
        for name in ("", "django", "mfaportal", "django.request")
    }
    root.addHandler(handler)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_secrets_never_reach_the_logs(client: Client, captured: Capture) -> None:
    service_set(app_passwords_allowed=True, remember_devices_allowed=True)
    make_user("adele@contoso.test", state=MfaState.ENABLED)
    secrets_seen: list[str] = [PASSWORD]

    # Registration with the mobile app in code mode, a wrong code first, then a backup phone.
    password_step(client, "adele@contoso.test")
    password_step(client, "adele@contoso.test", password="Wrong-Password-1")
    password_step(client, "adele@contoso.test")
    client.post(
        "/signin/register/", {"contact": "mobile_app", "app-mode": "code", "action": "setup"}
    )
    secret = secret_from_page(client.get("/signin/register/mobile-app/").content.decode())
    secrets_seen += [secret, totp.secret_display(secret)]
    client.post("/signin/register/mobile-app/")
    client.post("/signin/register/", {"contact": "mobile_app", "app-mode": "code"})
    client.post("/signin/register/verify/", {"action": "code", "code": "123456"})
    registration_code = code_now(secret)
    secrets_seen.append(registration_code)
    client.post("/signin/register/verify/", {"action": "code", "code": registration_code})
    client.post(
        "/signin/register/backup-phone/",
        {"backup-country": "US", "backup-phone": "4255550177", "backup-how": "text"},
    )
    text_code = last_code("+14255550177")
    secrets_seen.append(text_code)
    client.post("/signin/register/verify/", {"action": "code", "code": text_code})
    client.post("/signin/register/app-passwords/", {"action": "create"})
    done = client.get("/signin/register/app-passwords/").content.decode()
    first_app_password = _match(r'class="app-password">([a-z]{16})<', done)
    secrets_seen.append(first_app_password)
    client.post("/signin/register/app-passwords/", {"action": "done"})

    # Sign in again with a TOTP code (one wrong), remembering the device.
    client.post("/signout/")
    password_step(client, "adele@contoso.test")
    client.post("/signin/verify/", {"action": "code", "code": "000001"})
    next_code = code_now(secret, 1)
    secrets_seen.append(next_code)
    response = client.post(
        "/signin/verify/", {"action": "code", "code": next_code, "remember": "on"}
    )
    secrets_seen += [
        morsel.value for morsel in response.cookies.values() if morsel.key.startswith("mfa_trust_")
    ]
    assert RememberedDevice.objects.exists()

    # An app password by the page, then on the legacy endpoint (and a wrong one).
    created = client.post("/mfa/app-passwords/", {"name": "Outlook"}, follow=True).content.decode()
    app_password = _match(r'class="app-password">([a-z]{16})<', created)
    secrets_seen.append(app_password)
    for value in (app_password, "wrong-password", PASSWORD):
        header = base64.b64encode(f"adele@contoso.test:{value}".encode()).decode()
        client.get("/legacy/auth", HTTP_AUTHORIZATION=f"Basic {header}")
    # One bound to mail (issue 16.4), refused for the calendar: the refusal is logged too.
    created = client.post(
        "/mfa/app-passwords/", {"name": "Mail", "service": "mail"}, follow=True
    ).content.decode()
    bound = _match(r'class="app-password">([a-z]{16})<', created)
    secrets_seen.append(bound)
    header = base64.b64encode(f"adele@contoso.test:{bound}".encode()).decode()
    refused = client.get("/legacy/auth?service=calendar", HTTP_AUTHORIZATION=f"Basic {header}")
    assert refused.status_code == 403

    log = "\n".join(captured.lines)
    assert "password accepted for user" in log  # the flows did log
    for value in secrets_seen:
        assert value and value not in log, f"a secret reached the logs: {value[:3]}…"
    # The sign-in log recorded every attempt, and none of what was typed as a secret.
    sign_ins = "\n".join(str(row) for row in SignInEvent.objects.values_list())
    # Three legacy answers, and the bound password refused for the calendar.
    assert SignInEvent.objects.filter(client="legacy").count() == 4
    for value in [*secrets_seen, "Wrong-Password-1", "wrong-password"]:
        assert value not in sign_ins, f"a secret reached the sign-in log: {value[:3]}…"


def test_temporary_passwords_and_email_codes_never_reach_the_logs(
    client: Client, captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mfaportal.core import roles
    from mfaportal.selfservice.views import reset as reset_views
    from tests.selfservice.helpers import last_mail_code

    monkeypatch.setattr(reset_views, "EVEN_RESPONSE_SECONDS", 0)
    service_set(password_reset_enabled=True, password_reset_methods_required=2)
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    adele = make_user("adele@contoso.test", state=MfaState.ENABLED)
    secrets_seen: list[str] = []

    # An admin sets a temporary password; it is shown once on the page.
    staff = Client()
    staff.force_login(admin)
    page = staff.post(
        f"/admin/users/{adele.object_id}/reset-password/", follow=True
    ).content.decode()
    temporary = _match(r'id="temporary-password"[^>]*>([^<]+)<', page)
    secrets_seen.append(temporary)

    # Adele signs in with it, registers by text, then mistypes it once and chooses her own.
    chosen = "Her-Own-Passphrase-31"
    secrets_seen += [chosen, "Mistyped-Temporary-1"]
    password_step(client, "adele@contoso.test", temporary)
    client.post(
        "/signin/register/",
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "425 555 0166",
            "auth-how": "text",
        },
    )
    text_code = last_code("+14255550166")
    secrets_seen.append(text_code)
    client.post("/signin/register/verify/", {"action": "code", "code": text_code})
    for current in ("Mistyped-Temporary-1", temporary):
        client.post(
            "/signin/update-password/",
            {"current_password": current, "new_password": chosen, "confirm_password": chosen},
        )

    # Don't lose access: the authentication email, a wrong code first.
    client.post("/mfa/recovery/email/", {"action": "send", "email": "adele.home@example.net"})
    email_code = last_mail_code("adele.home@example.net")
    wrong = "000000" if email_code != "000000" else "111111"
    secrets_seen.append(email_code)
    client.post("/mfa/recovery/email/", {"action": "verify", "code": wrong})
    client.post("/mfa/recovery/email/", {"action": "verify", "code": email_code})
    client.post("/mfa/recovery/")
    client.post("/signout/")

    # Forgot my password: the email code and a text code, then a new password.
    stranger = Client()
    stranger.post("/signin/forgot-password/", {"username": "adele@contoso.test"})
    stranger.post(
        "/signin/forgot-password/verify/",
        {"reset-method": "email", "reset-email": "adele.home@example.net"},
    )
    reset_email_code = last_mail_code("adele.home@example.net")
    secrets_seen.append(reset_email_code)
    stranger.post("/signin/forgot-password/code/", {"action": "code", "code": reset_email_code})
    stranger.post(
        "/signin/forgot-password/verify/",
        {"reset-method": "text", "reset-country": "US", "reset-phone": "425 555 0166"},
    )
    reset_text_code = last_code("+14255550166")
    secrets_seen.append(reset_text_code)
    stranger.post("/signin/forgot-password/code/", {"action": "code", "code": reset_text_code})
    final = "Finally-Remembered-58"
    secrets_seen.append(final)
    stranger.post(
        "/signin/forgot-password/new-password/",
        {"new_password": final, "confirm_password": final},
    )

    adele.refresh_from_db()
    assert adele.check_password(final)  # the whole walk happened
    log = "\n".join(captured.lines)
    assert "temporary password set for user" in log and "reset their password" in log
    for value in secrets_seen:
        assert value and value not in log, f"a secret reached the logs: {value[:3]}…"


def test_hardware_token_keys_and_codes_never_reach_the_logs(
    client: Client, captured: Capture
) -> None:
    """Issue 16.3: a token file uploaded, a token activated and used to sign in; neither the
    key (in any spelling) nor a code it gave appears in any log."""
    secret = "6PJ4 UKIW 33NN XYZA EHQN FUFT ZF7W FTFB"  # as a vendor's file may space it
    key = secret.replace(" ", "")
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    make_user("adele@contoso.test", state=MfaState.ENFORCED)
    client.force_login(admin)
    body = (
        "upn,serial number,secret key,time interval,manufacturer,model\n"
        f"adele@contoso.test,SN-9,{secret},30,Contoso,Token 1000\n"
        f"adele@contoso.test,SN-10,{key}!,30,Contoso,Token 1000\n"
    )
    client.post(
        reverse("admin_portal:hardware_tokens"),
        {"file": SimpleUploadedFile("tokens.csv", body.encode())},
    )
    token = HardwareOathToken.objects.get(serial_number="SN-9")
    codes = [pyotp.TOTP(key).now(), pyotp.TOTP(key).at(time.time() + 30)]
    adele = Client()
    assert token.user is not None
    adele.force_login(token.user)
    adele.post(reverse("selfservice:hardware_token_activate", args=[token.pk]), {"code": "999999"})
    adele.post(reverse("selfservice:hardware_token_activate", args=[token.pk]), {"code": codes[0]})
    person = Client()
    password_step(person, "adele@contoso.test")
    signed_in = person.post(reverse("signin_flow:verify"), {"action": "code", "code": codes[1]})
    token.refresh_from_db()
    assert token.method_id is not None and signed_in["Location"] == "/"
    log = "\n".join(captured.lines)
    assert "hardware tokens uploaded" in log  # the capture saw the upload
    for leaked in (secret, key, key.lower(), *codes):
        assert leaked not in log
