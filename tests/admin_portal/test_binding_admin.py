"""App passwords bound to an application (issue 16.4) on the admin pages: the service
settings switch that requires a binding, and the user detail page's last use."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AppPassword, MfaState, ServiceSettings
from tests.admin_portal.test_service_settings import post
from tests.factories import make_user

pytestmark = pytest.mark.django_db
SETTINGS = reverse("admin_portal:service_settings")


def test_the_settings_tab_offers_to_require_a_binding_and_says_old_ones_keep_working(
    admin_client: Client,
) -> None:
    page = admin_client.get(SETTINGS).content.decode()
    assert "Require users to choose the application each new app password is for" in page
    assert "keep working in every application until they are deleted" in page
    assert not re.search(r'id="id_app_password_binding_required"[^>]*checked', page)


def test_requiring_a_binding_is_saved_and_audited(admin_client: Client) -> None:
    assert post(admin_client, app_password_binding_required="on").status_code == 302
    assert ServiceSettings.load().app_password_binding_required
    assert AuditEvent.objects.filter(
        action="settings.updated", detail__setting="app_password_binding_required"
    ).exists()
    page = admin_client.get(SETTINGS).content.decode()
    assert re.search(r'id="id_app_password_binding_required"[^>]*checked', page)
    post(admin_client)
    assert not ServiceSettings.load().app_password_binding_required


def test_helpdesk_sees_what_each_app_password_is_for_and_its_last_use(
    helpdesk_client: Client, admin: DirectoryUser
) -> None:
    user = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    AppPassword.objects.create(user=user, name="Phone mail", digest="a" * 64, service="mail")
    AppPassword.objects.create(
        user=user,
        name="Laptop",
        digest="b" * 64,
        last_used_at=timezone.now(),
        last_used_service="office",
        last_used_address="198.51.100.4",
    )
    page = helpdesk_client.get(
        reverse("admin_portal:user_detail", args=[user.object_id])
    ).content.decode()
    cells = re.sub(r"<[^>]+>|\s+", " ", page)
    assert re.search(r"Phone mail\s+Mail \(IMAP/POP/SMTP\)\s+\S.*?—", cells)
    assert re.search(r"Laptop\s+Any application\s+.+?Office apps, from 198\.51\.100\.4", cells)


def test_the_history_says_what_an_app_password_was_created_for(
    helpdesk_client: Client, admin: DirectoryUser
) -> None:
    user = make_user("megan@contoso.test", state=MfaState.ENFORCED, registered=True)
    audit_record(
        ChangeContext(actor=user, source=AuditSource.SELF_SERVICE),
        AuditEntry.about(
            user, "mfa.app_password_created", after="Phone", detail={"id": 1, "service": "mail"}
        ),
    )
    page = helpdesk_client.get(
        reverse("admin_portal:user_detail", args=[user.object_id])
    ).content.decode()
    assert "App password “Phone” created for Mail (IMAP/POP/SMTP)." in page
