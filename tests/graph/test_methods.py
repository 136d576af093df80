"""Per-user MFA state, sign-in preferences, methods, sessions, roles and the registration report."""

from __future__ import annotations

import pytest

from mfaportal.graph import (
    GLOBAL_ADMINISTRATOR_ROLE_ID,
    PHONE_METHOD_IDS,
    GraphBadRequest,
    GraphClient,
    GraphNotFound,
    PerUserMfaState,
    RegistrationDetails,
)
from mfaportal.graph.types import AUTHENTICATOR_METHOD_TYPE, PHONE_METHOD_TYPE
from tests.graph_emulator import GraphEmulator


@pytest.fixture
def fresh_user_id(graph_emulator: GraphEmulator) -> str:
    return graph_emulator.tenant.add_user("Fresh Person", alias="fresh.person").id


def test_requirements_get_and_set(graph_client: GraphClient, fresh_user_id: str) -> None:
    assert (
        graph_client.user_requirements_get(fresh_user_id).per_user_mfa_state
        is PerUserMfaState.DISABLED
    )

    graph_client.user_requirements_set(fresh_user_id, PerUserMfaState.ENABLED)
    assert (
        graph_client.user_requirements_get(fresh_user_id).per_user_mfa_state
        is PerUserMfaState.ENABLED
    )

    graph_client.user_requirements_set(fresh_user_id, "disabled")
    assert (
        graph_client.user_requirements_get(fresh_user_id).per_user_mfa_state
        is PerUserMfaState.DISABLED
    )


def test_requirements_are_beta_only(
    graph_emulator: GraphEmulator, graph_client: GraphClient, fresh_user_id: str
) -> None:
    graph_client.user_requirements_get(fresh_user_id)

    (request,) = graph_emulator.log.matching(r"/authentication/requirements$")
    assert request.path.startswith("/beta/")
    with pytest.raises(GraphBadRequest):
        graph_client.request("GET", f"/users/{fresh_user_id}/authentication/requirements")


def test_phone_methods_rules(
    graph_emulator: GraphEmulator, graph_client: GraphClient, fresh_user_id: str
) -> None:
    with pytest.raises(GraphBadRequest) as no_mobile_first:
        graph_client.phone_method_add(fresh_user_id, "+1 5555550101", "alternateMobile")
    assert no_mobile_first.value.code == "mobilePhoneRequired"
    with pytest.raises(GraphBadRequest) as bad_format:
        graph_client.phone_method_add(fresh_user_id, "555-0101", "mobile")
    assert bad_format.value.code == "invalidPhoneNumber"

    mobile = graph_client.phone_method_add(fresh_user_id, "+1 5555550101", "mobile")
    alternate = graph_client.phone_method_add(fresh_user_id, "+44 7700900123", "alternateMobile")
    office = graph_client.phone_method_add(fresh_user_id, "+1 4255550199x123", "office")
    with pytest.raises(GraphBadRequest):
        graph_client.phone_method_add(fresh_user_id, "+1 5555550102", "mobile")  # one per type

    assert (mobile.id, alternate.id, office.id) == (
        PHONE_METHOD_IDS["mobile"],
        PHONE_METHOD_IDS["alternateMobile"],
        PHONE_METHOD_IDS["office"],
    )
    assert mobile.odata_type == PHONE_METHOD_TYPE and mobile.kind == "phone"
    assert [m.phone_type for m in graph_client.phone_methods_list(fresh_user_id)] == [
        "mobile",
        "alternateMobile",
        "office",
    ]

    graph_client.phone_method_update(fresh_user_id, mobile.id, "+1 5555550199")
    graph_client.phone_method_delete(fresh_user_id, office.id)

    phones = {m.phone_type: m.phone_number for m in graph_client.phone_methods_list(fresh_user_id)}
    assert phones == {"mobile": "+1 5555550199", "alternateMobile": "+44 7700900123"}
    statuses = [
        r.status for r in graph_emulator.log.matching(r"/phoneMethods") if r.method != "GET"
    ]
    assert statuses == [400, 400, 201, 201, 201, 400, 204, 204]


def test_app_methods_listed_and_deleted(
    graph_emulator: GraphEmulator, graph_client: GraphClient, fresh_user_id: str
) -> None:
    app = graph_emulator.tenant.add_authenticator(fresh_user_id, "Pixel 8")
    token = graph_emulator.tenant.add_software_oath(fresh_user_id)

    methods = graph_client.auth_methods_list(fresh_user_id)
    assert {m.kind for m in methods} == {"password", "microsoftAuthenticator", "softwareOath"}
    (authenticator,) = graph_client.authenticator_methods_list(fresh_user_id)
    assert (authenticator.id, authenticator.display_name, authenticator.odata_type) == (
        app.id,
        "Pixel 8",
        AUTHENTICATOR_METHOD_TYPE,
    )
    assert [m.id for m in graph_client.software_oath_methods_list(fresh_user_id)] == [token.id]

    graph_client.authenticator_method_delete(fresh_user_id, app.id)
    graph_client.software_oath_method_delete(fresh_user_id, token.id)
    with pytest.raises(GraphNotFound):
        graph_client.authenticator_method_delete(fresh_user_id, app.id)

    assert {m.kind for m in graph_client.auth_methods_list(fresh_user_id)} == {"password"}


def test_sign_in_preferences(
    graph_emulator: GraphEmulator, graph_client: GraphClient, fresh_user_id: str
) -> None:
    assert (
        graph_client.sign_in_preferences_get(
            fresh_user_id
        ).user_preferred_method_for_secondary_authentication
        is None
    )
    with pytest.raises(GraphBadRequest):  # nothing registered to prefer
        graph_client.sign_in_preferences_set(fresh_user_id, user_preferred_method="push")

    graph_emulator.tenant.add_authenticator(fresh_user_id)
    graph_client.sign_in_preferences_set(
        fresh_user_id, user_preferred_method="push", system_preferred_enabled=True
    )

    preferences = graph_client.sign_in_preferences_get(fresh_user_id)
    assert preferences.user_preferred_method_for_secondary_authentication == "push"
    assert preferences.is_system_preferred_authentication_method_enabled is True
    (many,) = graph_client.sign_in_preferences_get_many([fresh_user_id])
    assert many.value == preferences


def test_revoke_sign_in_sessions(
    graph_emulator: GraphEmulator, graph_client: GraphClient, fresh_user_id: str
) -> None:
    assert graph_client.revoke_sign_in_sessions(fresh_user_id) is True
    assert graph_emulator.tenant.find(fresh_user_id).sessions_revoked_at is not None  # type: ignore[union-attr]
    (result,) = graph_client.revoke_sign_in_sessions_many([fresh_user_id])
    assert result.ok


def test_role_assignments_with_expanded_principals(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    assignments = graph_client.role_assignments(GLOBAL_ADMINISTRATOR_ROLE_ID)

    users = [a for a in assignments if a.principal is not None]
    assert [a.principal.user_principal_name for a in users] == ["admin@contoso.test"]  # type: ignore[union-attr]
    assert users[0].principal_id == graph_emulator.tenant.user_id_for(0)
    # A service principal holds the role too; it is reported, but not as a user.
    (app,) = [a for a in assignments if a.principal is None]
    assert app.principal_type == "#microsoft.graph.servicePrincipal"
    (request,) = graph_emulator.log.matching(r"/roleAssignments$")
    assert request.query["$filter"] == [f"roleDefinitionId eq '{GLOBAL_ADMINISTRATOR_ROLE_ID}'"]
    assert request.query["$expand"] == ["principal"]


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_registration_details_paged(
    graph_emulator: GraphEmulator, graph_client: GraphClient, version: str
) -> None:
    graph_emulator.report_page_size = 25

    pages = list(graph_client.registration_details(version=version))

    # The disabled user (index 46) is missing from the report, as it is from Microsoft's.
    assert [len(page) for page in pages] == [25, 25, 9]
    details: dict[str, RegistrationDetails] = {d.id: d for page in pages for d in page}
    with_app = details[graph_emulator.tenant.user_id_for(9)]
    assert with_app.is_mfa_registered
    assert "microsoftAuthenticatorPush" in with_app.methods_registered
    assert with_app.default_mfa_method == (
        "microsoftAuthenticatorPush" if version == "beta" else "push"
    )
    nothing = details[graph_emulator.tenant.user_id_for(2)]
    assert not nothing.is_mfa_registered and nothing.default_mfa_method is None
    guest = next(d for d in details.values() if "#EXT#" in (d.user_principal_name or ""))
    assert guest.user_preferred_method_for_secondary_authentication is None  # "" tolerated
