"""Issuing a Temporary Access Pass from the user detail page (issue 16.2): shown once,
refused outside Microsoft's limits, only for those who may manage the user's methods."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import TemporaryAccessPass
from mfaportal.mfa.services.tap import temporary_access_pass_sign_in
from tests.factories import make_user
from tests.selfservice.helpers import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def adele(db: None) -> DirectoryUser:
    return make_user("adele@contoso.test", display_name="Adele Vance")


def tap_url(user: DirectoryUser) -> str:
    return reverse("admin_portal:user_tap", args=[user.object_id])


def shown_pass(page: str) -> str:
    match = re.search(r'id="temporary-access-pass" class="temporary-access-pass">([^<]+)<', page)
    assert match is not None, "no pass on the page"
    return match.group(1)


def test_the_detail_page_offers_a_temporary_access_pass(
    helpdesk_client: Client, adele: DirectoryUser
) -> None:
    page = text(helpdesk_client.get(reverse("admin_portal:user_detail", args=[adele.object_id])))
    assert "Temporary Access Pass" in page
    assert tap_url(adele) in page


def test_the_form_offers_one_hour_starting_now_by_default(
    helpdesk_client: Client, adele: DirectoryUser
) -> None:
    page = text(helpdesk_client.get(tap_url(adele)))
    assert 'name="lifetime" type="number" min="1" max="43200" required value="1"' in page
    assert '<option value="hours" selected>' in page


def test_helpdesk_issues_a_pass_that_is_shown_once(
    helpdesk_client: Client, adele: DirectoryUser
) -> None:
    response = helpdesk_client.post(
        tap_url(adele), {"lifetime": "2", "unit": "hours", "starts_at": "", "one_time": "on"}
    )
    assert response.status_code == 302
    page = text(helpdesk_client.get(response["Location"]))
    value = shown_pass(page)
    assert "you'll see it only now" in page
    held = TemporaryAccessPass.objects.get(user=adele)
    assert held.one_time and held.lifetime_minutes == 120
    # A reload shows it no more and issues no other: the one read out still works.
    again = text(helpdesk_client.get(response["Location"]))
    assert value not in again and "no longer shown" in again
    assert TemporaryAccessPass.objects.filter(user=adele).count() == 1
    assert (
        temporary_access_pass_sign_in(
            user_principal_name="adele@contoso.test", value=value, address=None
        ).user
        == adele
    )


def test_the_history_says_a_pass_was_issued(helpdesk_client: Client, adele: DirectoryUser) -> None:
    helpdesk_client.post(tap_url(adele), {"lifetime": "1", "unit": "days", "one_time": "on"})
    assert AuditEvent.objects.filter(action="mfa.temporary_access_pass_created").exists()
    page = text(helpdesk_client.get(reverse("admin_portal:user_detail", args=[adele.object_id])))
    assert "One-time Temporary Access Pass issued, valid from" in page
    assert "Usable until" in page


@pytest.mark.parametrize(("lifetime", "unit"), [("9", "minutes"), ("31", "days"), ("721", "hours")])
def test_a_lifetime_outside_microsofts_limits_is_refused_and_nothing_issued(
    helpdesk_client: Client, adele: DirectoryUser, lifetime: str, unit: str
) -> None:
    response = helpdesk_client.post(tap_url(adele), {"lifetime": lifetime, "unit": unit})
    assert response.status_code == 400
    assert "between 10 minutes and 30 days" in text(response)
    assert not TemporaryAccessPass.objects.exists()


def test_helpdesk_cannot_issue_a_pass_for_a_global_administrator(
    helpdesk_client: Client,
) -> None:
    boss = make_user("boss@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    assert helpdesk_client.get(tap_url(boss)).status_code == 403
    assert (
        helpdesk_client.post(tap_url(boss), {"lifetime": "1", "unit": "hours"}).status_code == 403
    )
    assert not TemporaryAccessPass.objects.exists()


def test_a_pass_can_be_deleted_from_the_detail_page(
    helpdesk_client: Client, adele: DirectoryUser
) -> None:
    helpdesk_client.post(tap_url(adele), {"lifetime": "1", "unit": "hours"})
    response = helpdesk_client.post(reverse("admin_portal:user_tap_delete", args=[adele.object_id]))
    assert response.status_code == 302
    assert not TemporaryAccessPass.objects.exists()
    assert AuditEvent.objects.filter(action="mfa.temporary_access_pass_deleted").exists()
