"""Graph mode's sign-in log (issue 16.5): staff sign-ins through Entra ID are recorded, and
the Sign-ins page says that everyone else's sign-ins are in Entra's own logs."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.mfa.models import SignInEvent
from tests.entra.test_signin import start
from tests.factories import make_user
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db


def test_a_staff_sign_in_with_entra_id_is_in_the_sign_in_log(
    graph_mode: GraphEmulator, client: Client
) -> None:
    client.post(reverse("entra:callback"), start(client, graph_mode, "admin@contoso.test"))
    event = SignInEvent.objects.get()
    assert event.user is not None and event.user_label == "admin@contoso.test"
    assert (event.client, event.asked, event.result) == ("browser", "entra_id", "success")


def test_someone_without_an_admin_role_is_logged_as_not_allowed(
    graph_mode: GraphEmulator, client: Client
) -> None:
    client.post(reverse("entra:callback"), start(client, graph_mode, "adele@contoso.test"))
    event = SignInEvent.objects.get()
    assert (event.user_label, event.result, event.reason) == (
        "adele@contoso.test",
        "failure",
        "not_allowed",
    )


def test_the_sign_ins_page_says_where_entra_sign_ins_are(
    graph_mode: GraphEmulator, client: Client
) -> None:
    client.force_login(make_user("reader@contoso.test", admin_role=roles.GLOBAL_READER))
    html = client.get(reverse("admin_portal:signins")).content.decode()
    assert "Entra's own sign-in logs" in html
