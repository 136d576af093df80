"""One user for helpdesk: MSOnline-style tables, app passwords, devices, history, actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core import roles
from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import (
    AppPassword,
    MfaState,
    RememberedDevice,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.services.methods import NewPhone, phone_method_set
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def detail_url(user: DirectoryUser) -> str:
    return reverse("admin_portal:user_detail", args=[user.object_id])


@pytest.fixture
def megan(admin: DirectoryUser) -> DirectoryUser:
    user = make_user(
        "megan@contoso.test",
        display_name='Megan "M" <Bowen>',
        state=MfaState.ENFORCED,
        registered=True,
    )
    VerificationMethod.objects.create(
        user=user,
        kind=VerificationMethod.Kind.AUTHENTICATOR_APP,
        app_mode=VerificationMethod.AppMode.NOTIFICATION,
        device_name="Pixel 8",
    )
    UserMfa.objects.filter(user=user).update(
        default_method="PhoneAppNotification",
        remember_devices_not_issued_before=timezone.now(),
    )
    AppPassword.objects.create(user=user, name="Outlook desktop", digest="f00d" * 16)
    RememberedDevice.objects.create(
        user=user,
        digest="beef" * 16,
        label="Firefox on Windows",
        expires_at=timezone.now() + timedelta(days=14),
    )
    audit_record(
        ChangeContext(actor=admin, source=AuditSource.PAGE),
        AuditEntry.about(user, "mfa.state", before="Enabled", after="Enforced"),
    )
    return user


def test_detail_shows_identity_roles_and_state(helpdesk_client: Client, megan) -> None:
    html = helpdesk_client.get(detail_url(megan)).content.decode()
    assert "Megan &quot;M&quot; &lt;Bowen&gt;" in html
    assert "megan@contoso.test" in html
    assert str(megan.object_id) in html
    assert "Allowed" in html
    assert "Enforced" in html


def test_methods_table_reads_like_msonline_strong_authentication_methods(
    helpdesk_client: Client, megan
) -> None:
    html = helpdesk_client.get(detail_url(megan)).content.decode()
    assert "StrongAuthenticationMethods" in html
    for method_type in ("OneWaySMS", "TwoWayVoiceMobile", "PhoneAppNotification", "PhoneAppOTP"):
        assert f"<td>{method_type}</td>" in html
    assert "<td>PhoneAppNotification</td><td>True</td>" in html
    assert "<td>OneWaySMS</td><td>False</td>" in html
    assert "StrongAuthenticationRequirements" in html
    assert "<td>*</td><td>Enforced</td>" in html


def test_a_disabled_user_has_no_strong_authentication_requirement(
    helpdesk_client: Client, admin: DirectoryUser
) -> None:
    user = make_user("off@contoso.test")
    html = helpdesk_client.get(detail_url(user)).content.decode()
    assert "None: multi-factor auth is disabled for this user." in html
    assert "Nothing registered." in html


def test_app_passwords_are_listed_without_their_secret(helpdesk_client: Client, megan) -> None:
    html = helpdesk_client.get(detail_url(megan)).content.decode()
    assert "Outlook desktop" in html
    assert "f00d" not in html
    assert "Firefox on Windows" in html
    assert "beef" not in html


def test_the_users_history_is_on_the_page(helpdesk_client: Client, megan) -> None:
    html = helpdesk_client.get(detail_url(megan)).content.decode()
    assert "admin@contoso.test" in html
    assert "Multi-factor auth status changed from Enabled to Enforced." in html


def test_the_same_phone_number_is_masked_the_same_way_everywhere_on_the_page(
    helpdesk_client: Client, megan
) -> None:
    phone_method_set(
        user=megan,
        phone=NewPhone(kind="authentication_phone", phone_number="+14255550188"),
        context=ChangeContext(actor=megan, source=AuditSource.SELF_SERVICE),
    )
    html = helpdesk_client.get(detail_url(megan)).content.decode()
    # The methods table, the password reset contacts and the history: one way of writing it.
    assert html.count("+1 XXXXXXXX88") >= 3
    for unmasked in ("+14255550188", "425-555-0188", "(425) 555-0188", "4255550188"):
        assert unmasked not in html


def test_manage_user_settings_from_the_detail_page(helpdesk_client: Client, megan) -> None:
    response = helpdesk_client.post(
        reverse("admin_portal:user_manage", args=[megan.object_id]),
        {"delete_app_passwords": "on", "restore_remembered_devices": "on"},
        follow=True,
    )
    assert "Updates successful" in response.content.decode()
    assert not AppPassword.objects.filter(user=megan).exists()
    assert not RememberedDevice.objects.filter(user=megan).exists()
    assert VerificationMethod.objects.filter(user=megan).exists()


def test_manage_without_a_choice_is_refused(helpdesk_client: Client, megan) -> None:
    response = helpdesk_client.post(reverse("admin_portal:user_manage", args=[megan.object_id]))
    assert response.status_code == 400
    assert "Choose at least one setting to apply." in response.content.decode()


def test_revoke_sessions_signs_the_user_out_everywhere(helpdesk_client: Client, megan) -> None:
    victim = Client()
    victim.force_login(megan)
    assert victim.get(reverse("selfservice:setup")).status_code == 200
    response = helpdesk_client.post(
        reverse("admin_portal:user_revoke", args=[megan.object_id]), follow=True
    )
    assert "is signed out of every session" in response.content.decode()
    assert victim.get(reverse("selfservice:setup")).status_code == 302
    assert AuditEvent.objects.filter(target=megan, action="directory.sessions_revoked").exists()


def test_helpdesk_cannot_change_a_user_holding_a_privileged_admin_role(
    helpdesk_client: Client, admin: DirectoryUser
) -> None:
    other = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    AppPassword.objects.create(user=other, name="Outlook", digest="c" * 64)
    html = helpdesk_client.get(detail_url(other)).content.decode()
    assert "revoke sessions" not in html
    assert "Authentication administrators can&#x27;t change their sign-in methods" in html
    response = helpdesk_client.post(
        reverse("admin_portal:user_manage", args=[other.object_id]),
        {"delete_app_passwords": "on"},
    )
    assert response.status_code == 403
    assert AppPassword.objects.filter(user=other).exists()
    revoke = helpdesk_client.post(reverse("admin_portal:user_revoke", args=[other.object_id]))
    assert revoke.status_code == 403
    other.refresh_from_db()
    assert other.session_version == 0


def test_helpdesk_changes_a_password_administrator_as_microsoft_allows(
    helpdesk_client: Client,
) -> None:
    """Password Administrator is a row with a tick in the Auth Admin column of Microsoft's
    "Who can perform sensitive actions" table."""
    other = make_user(
        "pwadmin@contoso.test",
        admin_role=roles.ROLES_BY_TEMPLATE_ID["966707d0-3269-4727-9be2-8c3a10f19b9d"],
    )
    assert "revoke sessions" in helpdesk_client.get(detail_url(other)).content.decode()
    revoke = helpdesk_client.post(reverse("admin_portal:user_revoke", args=[other.object_id]))
    assert revoke.status_code == 302
    other.refresh_from_db()
    assert other.session_version == 1


def test_an_unknown_user_is_404(helpdesk_client: Client) -> None:
    assert (
        helpdesk_client.get(
            reverse("admin_portal:user_detail", args=["00000000-0000-4000-8000-000000000000"])
        ).status_code
        == 404
    )
