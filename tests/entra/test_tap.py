"""Temporary Access Pass in graph mode (issue 16.2): Microsoft Graph issues it and the page
shows Graph's pass once; signing in with it happens at Entra, and the portal says so."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.sync import directory_sync
from mfaportal.mfa.models import TemporaryAccessPass
from tests.factories import make_user
from tests.graph_emulator.server import GraphEmulator
from tests.graph_emulator.tenant import User as EmulatedUser
from tests.selfservice.helpers import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(graph_mode: GraphEmulator) -> GraphEmulator:
    directory_sync(full=True)
    return graph_mode


def cached(emulator: GraphEmulator, index: int) -> DirectoryUser:
    return DirectoryUser.objects.get(object_id=emulator.tenant.user_at(index).id)


def in_emulator(emulator: GraphEmulator, user: DirectoryUser) -> EmulatedUser:
    found = emulator.tenant.find(str(user.object_id))
    assert found is not None
    return found


@pytest.fixture
def helpdesk_client(synced: GraphEmulator, client: Client) -> Client:
    client.force_login(
        make_user("helpdesk@contoso.test", admin_role=roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR)
    )
    return client


def test_graph_issues_the_pass_and_the_page_shows_it_once(
    synced: GraphEmulator, helpdesk_client: Client
) -> None:
    user = cached(synced, 5)
    response = helpdesk_client.post(
        reverse("admin_portal:user_tap", args=[user.object_id]),
        {"lifetime": "2", "unit": "hours", "one_time": "on"},
    )
    assert response.status_code == 302
    page = text(helpdesk_client.get(response["Location"]))
    found = re.search(r'id="temporary-access-pass" class="temporary-access-pass">([^<]+)<', page)
    assert found is not None
    in_graph = in_emulator(synced, user).temporary_access_pass
    assert in_graph is not None and found.group(1) == in_graph.value
    assert in_graph.lifetime_minutes == 120 and in_graph.usable_once
    held = TemporaryAccessPass.objects.get(user=user)
    assert held.digest == "" and held.directory_id == in_graph.id  # Entra checks it, not us
    assert "Microsoft's sign-in page" in page
    assert "no longer shown" in text(helpdesk_client.get(response["Location"]))


def test_deleting_the_pass_deletes_it_in_graph(
    synced: GraphEmulator, helpdesk_client: Client
) -> None:
    user = cached(synced, 5)
    helpdesk_client.post(
        reverse("admin_portal:user_tap", args=[user.object_id]), {"lifetime": "1", "unit": "hours"}
    )
    helpdesk_client.post(reverse("admin_portal:user_tap_delete", args=[user.object_id]))
    assert in_emulator(synced, user).temporary_access_pass is None
    assert not TemporaryAccessPass.objects.filter(user=user).exists()


def test_signing_in_with_a_pass_happens_at_entra_in_graph_mode(
    graph_mode: GraphEmulator, client: Client
) -> None:
    page = text(client.get("/signin/temporary-access-pass/"))
    assert "Sign in with Microsoft Entra ID and enter your Temporary Access Pass there" in page
    assert 'name="temporary_access_pass"' not in page
    refused = text(
        client.post(
            "/signin/temporary-access-pass/",
            {"username": "someone@contoso.test", "temporary_access_pass": "abcdefgh"},
        )
    )
    assert 'name="temporary_access_pass"' not in refused


def test_a_pass_graph_refuses_is_not_shown_and_the_page_says_why(
    synced: GraphEmulator, helpdesk_client: Client
) -> None:
    # A tenant whose Authentication methods policy doesn't enable Temporary Access Pass
    # answers 403 (a policy refusal; Graph's code is shown).
    synced.faults.add(r"/temporaryAccessPassMethods$", status=403, method="POST", times=None)
    user = cached(synced, 5)
    response = helpdesk_client.post(
        reverse("admin_portal:user_tap", args=[user.object_id]),
        {"lifetime": "1", "unit": "hours"},
    )
    assert response.status_code == 400
    page = text(response)
    assert "Microsoft Graph refused the Temporary Access Pass (Authorization_RequestDenied)" in page
    assert not TemporaryAccessPass.objects.exists()
    assert in_emulator(synced, user).temporary_access_pass is None
