"""Passkeys and security keys in graph mode: Graph lists and deletes a user's
fido2Methods (sync lists them; the helpdesk deletes a lost one through the outbox); it
cannot register one for another user (v1.0 has no POST), so the portal does neither
registration nor sign-in with them in graph mode (Entra ID signs people in)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.sync import directory_sync
from mfaportal.graph import client_from_settings
from mfaportal.mfa.models import VerificationMethod
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db


def test_a_synced_users_security_keys_are_listed_with_their_names(
    graph_mode: GraphEmulator,
) -> None:
    graph_user = graph_mode.tenant.user_at(9)  # mobile and office phones, authenticator app
    graph_mode.tenant.add_fido2(graph_user.id, "Megan's YubiKey")
    directory_sync(full=True)
    user = DirectoryUser.objects.get(object_id=graph_user.id)
    passkeys = user.methods.filter(kind=VerificationMethod.Kind.PASSKEY)
    assert [m.device_name for m in passkeys] == ["Megan's YubiKey"]


def test_the_graph_client_lists_and_deletes_fido2_methods(graph_mode: GraphEmulator) -> None:
    graph_user = graph_mode.tenant.user_at(9)
    key = graph_mode.tenant.add_fido2(graph_user.id, "Desk key")
    client = client_from_settings()
    listed = client.fido2_methods_list(graph_user.id)
    assert [(m.id, m.kind, m.display_name) for m in listed] == [(key.id, "fido2", "Desk key")]
    client.fido2_method_delete(graph_user.id, key.id)
    assert graph_user.fido2 == []
    assert graph_mode.log.matching(
        rf"^/v1.0/users/{graph_user.id}/authentication/fido2Methods/{key.id}$", method="DELETE"
    )


def test_the_user_page_says_graph_cannot_register_a_passkey_for_someone_else(
    graph_mode: GraphEmulator, client: Client
) -> None:
    graph_user = graph_mode.tenant.user_at(9)
    graph_mode.tenant.add_fido2(graph_user.id, "Megan's YubiKey")
    directory_sync(full=True)
    client.force_login(DirectoryUser.objects.get(object_id=graph_mode.tenant.user_at(0).id))
    page = html.unescape(
        client.get(reverse("admin_portal:user_detail", args=[graph_user.id])).content.decode()
    )
    assert "Megan's YubiKey" in page
    assert "Microsoft Graph cannot register one for another user" in page


def test_the_helpdesk_deletes_a_passkey_in_graph_and_the_cache_follows_graphs_answer(
    graph_mode: GraphEmulator,
    client: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    graph_user = graph_mode.tenant.user_at(9)
    graph_mode.tenant.add_fido2(graph_user.id, "Lost key")
    kept = graph_mode.tenant.add_fido2(graph_user.id, "Desk key")
    directory_sync(full=True)
    user = DirectoryUser.objects.get(object_id=graph_user.id)
    lost = user.methods.get(kind=VerificationMethod.Kind.PASSKEY, device_name="Lost key")
    client.force_login(DirectoryUser.objects.get(object_id=graph_mode.tenant.user_at(0).id))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin_portal:user_passkey_delete", args=[graph_user.id, lost.pk]))
    assert graph_user.fido2 == [kept]
    change = OutboxChange.objects.get(user=user, kind=OutboxChange.Kind.PASSKEYS_DELETE)
    assert change.status == OutboxChange.Status.DONE
    names = set(
        user.methods.filter(kind=VerificationMethod.Kind.PASSKEY).values_list(
            "device_name", flat=True
        )
    )
    assert names == {"Desk key"}
