"""Account recovery for helpdesk and admins (DESIGN §5.7): reset to a temporary password from
the user detail page, the recovery contacts (masked) and registration there, the service
setting, and the report's IsSsprRegistered column."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AuthenticationEmail, MfaState, ServiceSettings
from mfaportal.mfa.recovery import RecoveryRefused, email_mask, password_reset_temporary
from mfaportal.mfa.reports import REPORT_COLUMNS, report_csv_lines
from tests.factories import make_user
from tests.selfservice.helpers import password_step, service_set, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> DirectoryUser:
    return make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)


@pytest.fixture
def helpdesk() -> DirectoryUser:
    return make_user("helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)


def reset_url(user: DirectoryUser) -> str:
    return reverse("admin_portal:user_password_reset", args=[user.object_id])


def detail_url(user: DirectoryUser) -> str:
    return reverse("admin_portal:user_detail", args=[user.object_id])


def test_an_admin_resets_a_password_and_sees_the_temporary_one_once(client: Client, admin) -> None:
    adele = make_user("adele@contoso.test")
    client.force_login(admin)
    assert "reset password" in text(client.get(detail_url(adele)))
    confirm = text(client.get(reset_url(adele)))
    assert "Reset password?" in confirm
    adele.refresh_from_db()
    assert not adele.password_must_change  # a GET changes nothing

    response = client.post(reset_url(adele))
    assert response.status_code == 302  # POST/redirect/GET
    shown_at = response["Location"]
    response = client.get(shown_at)
    assert "no-store" in response["Cache-Control"]
    found = re.search(r'id="temporary-password"[^>]*>([^<]+)<', response.content.decode())
    assert found is not None
    temporary = found.group(1)
    adele.refresh_from_db()
    assert adele.password_must_change and adele.check_password(temporary)
    # Nowhere else: not in a message, the session, or the audit trail.
    assert not [m for m in get_messages(response.wsgi_request) if temporary in str(m)]
    assert temporary not in str(dict(client.session))
    event = AuditEvent.objects.get(target=adele, action="directory.password_reset")
    assert event.actor == admin and event.after == "temporary password"
    assert temporary not in str(event.detail) + event.before + event.after
    # The detail page says so afterwards, without the password.
    page = text(client.get(detail_url(adele)))
    assert "Temporary: must be changed at next sign-in" in page and temporary not in page

    # A reload shows it no more and issues no other: the one read out still works.
    again = text(client.get(shown_at))
    assert temporary not in again and "was shown once and is no longer shown" in again
    adele.refresh_from_db()
    assert adele.check_password(temporary)
    assert AuditEvent.objects.filter(target=adele, action="directory.password_reset").count() == 1

    # The user can sign in with it, and must change it.
    other = Client()
    assert password_step(other, "adele@contoso.test", temporary)["Location"] == (
        "/signin/update-password/"
    )


def test_helpdesk_resets_ordinary_users_but_not_admins(client: Client, helpdesk, admin) -> None:
    adele = make_user("adele@contoso.test")
    client.force_login(helpdesk)
    assert client.post(reset_url(adele)).status_code == 302
    assert client.get(reset_url(admin)).status_code == 403
    assert client.post(reset_url(admin)).status_code == 403
    admin.refresh_from_db()
    assert not admin.password_must_change
    with pytest.raises(RecoveryRefused):
        password_reset_temporary(
            user=admin, context=ChangeContext(actor=helpdesk, source=AuditSource.PAGE)
        )


def test_plain_users_cannot_reset_anyones_password(client: Client) -> None:
    adele = make_user("adele@contoso.test")
    megan = make_user("megan@contoso.test")
    client.force_login(megan)
    assert client.post(reset_url(adele)).status_code == 403
    adele.refresh_from_db()
    assert not adele.password_must_change


@override_settings(MFAPORTAL_DIRECTORY="graph")
def test_in_graph_mode_passwords_are_reset_in_entra(client: Client, admin) -> None:
    adele = make_user("adele@contoso.test")
    with pytest.raises(RecoveryRefused) as refusal:
        password_reset_temporary(
            user=adele, context=ChangeContext(actor=admin, source=AuditSource.PAGE)
        )
    assert "Entra" in refusal.value.message
    client.force_login(admin)
    assert "reset password" not in text(client.get(detail_url(adele)))


def test_the_detail_page_shows_masked_recovery_contacts_and_registration(
    client: Client, admin
) -> None:
    service_set(password_reset_enabled=True, password_reset_methods_required=2)
    adele = make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client.force_login(admin)
    page = text(client.get(detail_url(adele)))
    assert "Registered for password reset" in page
    assert '<dd>No <span class="muted">(1 of 2 methods required)</span>' in page
    AuthenticationEmail.objects.create(user=adele, address="adele.vance@example.net")
    page = text(client.get(detail_url(adele)))
    assert '<dd>Yes <span class="muted">(2 of 2 methods required)</span>' in page
    assert "ad*****@ex*****.net" in page and "adele.vance@example.net" not in page
    assert "+1 XXXXXXXX23" in page


def test_email_addresses_are_masked_for_helpdesk() -> None:
    assert email_mask("adele.vance@example.net") == "ad*****@ex*****.net"
    assert email_mask("a@b.io") == "a*****@b*****.io"


def test_the_service_settings_tab_turns_password_reset_on_and_sets_the_count(
    client: Client, admin
) -> None:
    client.force_login(admin)
    page = text(client.get(reverse("admin_portal:service_settings")))
    assert "Allow users to reset their own password (self-service password reset)" in page
    assert "Number of methods required to reset" in page
    base = {
        "app_passwords": "deny",
        "method_call": "on",
        "method_text": "on",
        "remember_devices_days": "14",
    }
    response = client.post(
        reverse("admin_portal:service_settings"),
        {**base, "password_reset_enabled": "on", "password_reset_methods_required": "1"},
    )
    assert response.status_code == 302
    service = ServiceSettings.load()
    assert service.password_reset_enabled and service.password_reset_methods_required == 1
    # A form without the count keeps the saved one.
    client.post(reverse("admin_portal:service_settings"), base)
    service = ServiceSettings.load()
    assert not service.password_reset_enabled and service.password_reset_methods_required == 1
    assert AuditEvent.objects.filter(
        action="settings.updated", detail__setting="password_reset_enabled"
    ).exists()


def test_the_status_report_says_who_is_registered_for_password_reset() -> None:
    service_set(password_reset_enabled=True, password_reset_methods_required=1)
    phone_only = make_user("phone@contoso.test", registered=True)
    email_only = make_user("email@contoso.test")
    AuthenticationEmail.objects.create(user=email_only, address="e@example.net")
    make_user("nothing@contoso.test")
    boss = make_user("boss@contoso.test", registered=True, admin_role=roles.GLOBAL_ADMINISTRATOR)
    rows = list(csv.DictReader(io.StringIO("".join(report_csv_lines(DirectoryUser.objects.all())))))
    assert REPORT_COLUMNS[-1] == "IsSsprRegistered"
    registered = {row["UserPrincipalName"]: row["IsSsprRegistered"] for row in rows}
    assert registered == {
        phone_only.user_principal_name: "True",
        email_only.user_principal_name: "True",
        "nothing@contoso.test": "False",
        boss.user_principal_name: "False",  # admins need both
    }


def test_the_report_reads_recovery_contacts_without_a_query_per_user(
    django_assert_max_num_queries,
) -> None:
    for index in range(30):
        user = make_user(f"user{index}@contoso.test", registered=True)
        AuthenticationEmail.objects.create(user=user, address=f"u{index}@example.net")
    with django_assert_max_num_queries(10):
        lines = list(report_csv_lines(DirectoryUser.objects.all()))
    assert len(lines) == 31
