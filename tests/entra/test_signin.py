"""Staff sign-in with Entra ID in graph mode: the authorization-code flow through real MSAL
against the emulator's identity platform, with response_mode=form_post."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.selectors import session_proved_at
from mfaportal.entra.signin import FLOW_COOKIE
from tests.factories import PASSWORD, make_user
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db


def start(client: Client, emulator: GraphEmulator, login_hint: str) -> dict[str, str]:
    """Open the portal's sign-in, then play the browser at the identity platform: the
    answer is the form it would POST back to the portal."""
    answer = client.get(reverse("entra:start"), {"login_hint": login_hint, "next": "/mfa/setup/"})
    assert answer.status_code == 302
    assert answer["Location"].startswith(emulator.authority + "/oauth2/v2.0/authorize?")
    assert "response_mode=form_post" in answer["Location"]
    cookie = answer.cookies[FLOW_COOKIE]
    assert cookie["samesite"] == "None" and cookie["secure"] and cookie["httponly"]
    return emulator.browser_authorize(answer["Location"])


def signed_in_user(client: Client) -> Any:
    return client.get(reverse("home")).wsgi_request.user


def test_global_admin_signs_in_and_gets_the_admin_role_from_graph(
    graph_mode: GraphEmulator, client: Client
) -> None:
    answer = client.post(reverse("entra:callback"), start(client, graph_mode, "admin@contoso.test"))

    assert answer.status_code == 303 and answer["Location"] == "/mfa/setup/"
    user = signed_in_user(client)
    assert user.user_principal_name == "admin@contoso.test"
    assert user.capabilities == frozenset(roles.Capability)
    # Read from Graph at sign-in, with the roles: the cache did not hold this user before.
    assert set(user.roles.values_list("template_id", flat=True)) == {
        roles.GLOBAL_ADMINISTRATOR.template_id
    }
    assert client.get(reverse("home"))["Location"] == reverse("admin_portal:users")
    assert FLOW_COOKIE in answer.cookies and answer.cookies[FLOW_COOKIE].value == ""


def test_authentication_administrator_signs_in_as_helpdesk(
    graph_mode: GraphEmulator, client: Client
) -> None:
    answer = client.post(
        reverse("entra:callback"), start(client, graph_mode, "helpdesk@contoso.test")
    )

    assert answer.status_code == 303
    assert signed_in_user(client).capabilities == roles.capabilities_for(
        {roles.AUTHENTICATION_ADMINISTRATOR.template_id}
    )


@pytest.mark.parametrize(
    "role",
    [
        roles.AUTHENTICATION_POLICY_ADMINISTRATOR,
        roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        roles.GLOBAL_READER,
        roles.SECURITY_READER,
        roles.REPORTS_READER,
    ],
    ids=lambda role: role.display_name,
)
def test_every_role_design_lists_signs_in_with_what_it_may_do(
    graph_mode: GraphEmulator, client: Client, role: roles.BuiltInRole
) -> None:
    person = graph_mode.tenant.user_at(22)
    graph_mode.tenant.assign_role(role.template_id, person.id)

    answer = client.post(
        reverse("entra:callback"), start(client, graph_mode, person.user_principal_name)
    )

    assert answer.status_code == 303
    assert signed_in_user(client).capabilities == roles.capabilities_for({role.template_id})
    assert client.get(reverse("admin_portal:users")).status_code == 200


def test_roles_come_from_graph_not_from_a_stale_cache(
    graph_mode: GraphEmulator, client: Client
) -> None:
    adele = graph_mode.tenant.user_at(2)
    stale = make_user(
        "adele@contoso.test", object_id=adele.id, admin_role=roles.GLOBAL_ADMINISTRATOR
    )

    answer = client.post(reverse("entra:callback"), start(client, graph_mode, "adele@contoso.test"))

    assert answer.status_code == 403
    assert b"for administrators and helpdesk staff" in answer.content
    assert b"https://mysignins.microsoft.com/security-info" in answer.content
    assert not signed_in_user(client).is_authenticated
    assert not DirectoryUser.objects.get(pk=stale.pk).roles.exists()


def test_a_wrong_state_is_refused(graph_mode: GraphEmulator, client: Client) -> None:
    fields = start(client, graph_mode, "admin@contoso.test")

    answer = client.post(reverse("entra:callback"), {**fields, "state": "forged"})

    assert answer.status_code == 400
    assert b"doesn&#x27;t match the sign-in you started" in answer.content
    assert not signed_in_user(client).is_authenticated
    assert not graph_mode.log.matching(r"/oauth2/v2.0/token$", method="POST")[1:]


def test_a_replayed_answer_is_refused(graph_mode: GraphEmulator, client: Client) -> None:
    fields = start(client, graph_mode, "admin@contoso.test")
    assert client.post(reverse("entra:callback"), fields).status_code == 303
    client.logout()

    replay = client.post(reverse("entra:callback"), fields)

    assert replay.status_code == 400
    assert b"already used" in replay.content
    assert not signed_in_user(client).is_authenticated


def test_a_replayed_code_is_refused_by_entra(graph_mode: GraphEmulator, client: Client) -> None:
    used = start(client, graph_mode, "admin@contoso.test")
    assert client.post(reverse("entra:callback"), used).status_code == 303
    client.logout()
    # A new sign-in in this browser, answered with the code that was already redeemed.
    fresh = start(client, graph_mode, "admin@contoso.test")

    replay = client.post(reverse("entra:callback"), {**fresh, "code": used["code"]})

    assert replay.status_code == 400
    assert b"This sign-in code was already used or has expired." in replay.content
    assert not signed_in_user(client).is_authenticated


def test_an_answer_without_the_browsers_flow_cookie_is_refused(
    graph_mode: GraphEmulator, client: Client
) -> None:
    fields = start(client, graph_mode, "admin@contoso.test")
    other_browser = Client()

    answer = other_browser.post(reverse("entra:callback"), fields)

    assert answer.status_code == 400
    assert b"started in this browser" in answer.content


def test_an_error_from_entra_is_shown_escaped(graph_mode: GraphEmulator, client: Client) -> None:
    fields = start(client, graph_mode, "admin@contoso.test")

    answer = client.post(
        reverse("entra:callback"),
        {"state": fields["state"], "error": "access_denied", "error_description": "<b>no</b>"},
    )

    assert answer.status_code == 403
    assert b"&lt;b&gt;no&lt;/b&gt;" in answer.content


def test_password_sign_in_is_refused_in_graph_mode(
    graph_mode: GraphEmulator, client: Client
) -> None:
    make_user("helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)

    page = client.get(reverse("signin"))
    assert b"Sign in with Microsoft Entra ID" in page.content
    assert b'type="password"' not in page.content

    answer = client.post(
        reverse("signin"), {"username": "helpdesk@contoso.test", "password": PASSWORD}
    )
    assert b"this portal keeps no passwords" in answer.content
    assert not signed_in_user(client).is_authenticated


def test_entra_sign_in_is_absent_in_local_mode(client: Client) -> None:
    assert client.get(reverse("entra:start")).status_code == 404
    assert b"Sign in with Microsoft Entra ID" not in client.get(reverse("signin")).content


def test_someone_without_an_admin_role_in_a_us_government_tenant_is_sent_to_its_my_sign_ins(
    graph_mode: GraphEmulator, client: Client, settings: Any
) -> None:
    settings.MFAPORTAL_CLOUD = "usgov"  # the emulator's own hosts stay set explicitly

    answer = client.post(reverse("entra:callback"), start(client, graph_mode, "adele@contoso.test"))

    assert answer.status_code == 403
    assert b"https://mysignins.microsoft.us/security-info" in answer.content
    assert b"mysignins.microsoft.com" not in answer.content


def test_staff_sign_in_works_when_the_tenant_is_configured_by_its_domain_name(
    graph_mode: GraphEmulator, client: Client, settings: Any
) -> None:
    # The authority accepts a verified domain; the token's tid is always the tenant's GUID.
    settings.MFAPORTAL_TENANT_ID = graph_mode.tenant.domain

    answer = client.post(reverse("entra:callback"), start(client, graph_mode, "admin@contoso.test"))

    assert answer.status_code == 303
    assert signed_in_user(client).capabilities == frozenset(roles.Capability)


def test_a_staff_sign_in_with_a_password_only_is_refused(
    graph_mode: GraphEmulator, client: Client
) -> None:
    graph_mode.sign_in_amr = ["pwd"]  # Entra signed them in without a second factor

    answer = client.post(reverse("entra:callback"), start(client, graph_mode, "admin@contoso.test"))

    assert answer.status_code == 403
    assert b"Sign in with multi-factor authentication" in answer.content
    assert not signed_in_user(client).is_authenticated


def test_an_entra_sign_in_is_the_proof_of_that_session_alone(
    graph_mode: GraphEmulator, client: Client
) -> None:
    """Entra ID's whole sign-in (its password and its second factor) is the step-up proof
    of the session it opens, and of no other session of the same person."""
    other = Client()
    other.force_login(make_user("admin@contoso.test"))
    client.post(reverse("entra:callback"), start(client, graph_mode, "admin@contoso.test"))
    assert session_proved_at(client.session) is not None
    assert session_proved_at(other.session) is None
