"""The mail simulator (/demo/mail/) and the demo tenant's new hires with temporary
passwords (DESIGN §5.7)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AuthenticationEmail, MfaState, ServiceSettings, UserMfa
from mfaportal.mfa.recovery import recovery_contacts
from tests.factories import make_user
from tests.selfservice.helpers import last_code, password_step, service_set, session_proved

pytestmark = pytest.mark.django_db
HOME = "adele.home@example.net"


@override_settings(EMAIL_BACKEND="mfaportal.mfa.mail.OutboxEmailBackend")
def test_the_mail_simulator_shows_each_mailbox_and_says_it_is_a_simulator(client: Client) -> None:
    service_set(password_reset_enabled=True)
    adele = make_user("adele@contoso.test")
    client.force_login(adele)
    session_proved(client)
    client.post("/mfa/recovery/email/", {"action": "send", "email": HOME})
    listing = Client().get("/demo/mail/").content.decode()
    assert "Simulator — local demo only. No real mail is sent." in listing
    assert HOME in listing
    mailbox = Client().get("/demo/mail/?address=ADELE.HOME%40example.net").content.decode()
    assert "Verify your email address for MFA Portal" in mailbox
    assert "It expires in 10 minutes and works once." in mailbox
    partial = Client().get(f"/demo/mail/?address={HOME}", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<section id="mailbox"')


@override_settings(MFAPORTAL_SIMULATORS=False)
def test_the_mail_simulator_is_absent_in_production(client: Client) -> None:
    assert client.get("/demo/mail/").status_code == 404


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_the_demo_tenant_has_new_hires_with_temporary_passwords() -> None:
    output = seed("--users", "120")
    new_hires = DirectoryUser.objects.filter(password_must_change=True)
    assert new_hires.count() == 3  # generated users 17, 67 and 117
    for user in new_hires:
        assert not user.holds_admin_role and user.account_enabled
        assert not user.methods.exists()
        assert UserMfa.objects.get(user=user).state in (MfaState.ENABLED, MfaState.DISABLED)
    assert (
        "3 new hires" in output
        and new_hires.order_by("user_principal_name")[0].user_principal_name in output
    )
    for upn in ("admin@contoso.test", "helpdesk@contoso.test", "adele@contoso.test"):
        assert not DirectoryUser.objects.get(user_principal_name=upn).password_must_change
    assert ServiceSettings.load().password_reset_enabled
    registered = [
        user
        for user in DirectoryUser.objects.filter(methods__isnull=False).distinct()
        if recovery_contacts(user).registered
    ]
    assert registered and AuthenticationEmail.objects.count() >= len(registered)


def test_a_new_hire_signs_in_with_the_printed_password_and_must_change_it(client: Client) -> None:
    seed("--users", "20", "--password", "Printed-Pass-9")
    new_hire = DirectoryUser.objects.get(password_must_change=True)
    response = password_step(client, new_hire.user_principal_name, "Printed-Pass-9")
    # Enabled with nothing registered: registration first, then the new password (seed 003).
    assert response["Location"] == "/signin/more-information/"
    client.post(
        "/signin/register/",
        {
            "contact": "authentication_phone",
            "auth-country": "US",
            "auth-phone": "425 555 0190",
            "auth-how": "text",
        },
    )
    response = client.post(
        "/signin/register/verify/", {"action": "code", "code": last_code("+14255550190")}
    )
    assert response["Location"] == "/signin/register/app-passwords/"  # the demo allows them
    response = client.post(response["Location"], {"action": "decline"})
    assert response["Location"] == "/signin/update-password/"
    assert client.get("/mfa/setup/")["Location"] == "/signin/update-password/"
