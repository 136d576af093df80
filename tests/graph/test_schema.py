"""The emulator's answers, and what the client sends, against Microsoft's Graph metadata.

v1.0 types come from the CSDL (property names, types, nullability and enum members, with the
BaseType chain merged) turned into JSON Schema with ``additionalProperties: false``. Beta-only
types come from the beta type-mapping JSON, which lists names and enum members but no types.
The schema lives beside the repository in ../shared/graph-schema; without it this test fails.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mfaportal.graph import GLOBAL_ADMINISTRATOR_ROLE_ID, GraphClient
from tests.graph_emulator import GraphEmulator

SCHEMA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "graph-schema"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
GUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
PRIMITIVES: dict[str, dict[str, Any]] = {
    "Edm.String": {"type": "string"},
    "Edm.Boolean": {"type": "boolean"},
    "Edm.Guid": {"type": "string", "pattern": GUID_PATTERN},
    "Edm.DateTimeOffset": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"},
    "Edm.Date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "Edm.Int32": {"type": "integer"},
    "Edm.Int64": {"type": "integer"},
    "Edm.Double": {"type": "number"},
    "Edm.Binary": {"type": "string"},
    "Edm.Duration": {"type": "string"},
}
# Annotations Graph adds to any object (context, type, links, delta's removal marker).
ANNOTATIONS = {"^@odata\\.": {}, "^@removed$": {"type": "object"}}


def require_schema_file(name: str) -> Path:
    path = SCHEMA_DIR / name
    if not path.is_file():
        pytest.fail(
            f"Graph schema file missing: {path} (expected ../shared/graph-schema beside the repo)"
        )
    return path


class Csdl:
    """Entity, complex and enum types of the v1.0 CSDL, addressed as ``microsoft.graph.user``."""

    def __init__(self, path: Path) -> None:
        self.types: dict[str, ET.Element] = {}
        self.enums: dict[str, list[str]] = {}
        self.aliases: dict[str, str] = {}
        root = ET.parse(path).getroot()
        for schema in root.iter(f"{EDM}Schema"):
            namespace = schema.attrib["Namespace"]
            if "Alias" in schema.attrib:
                self.aliases[schema.attrib["Alias"]] = namespace
            for element in schema:
                name = element.attrib.get("Name")
                if element.tag in (f"{EDM}EntityType", f"{EDM}ComplexType"):
                    self.types[f"{namespace}.{name}"] = element
                elif element.tag == f"{EDM}EnumType":
                    self.enums[f"{namespace}.{name}"] = [
                        m.attrib["Name"] for m in element.iter(f"{EDM}Member")
                    ]

    def qualify(self, type_name: str) -> str:
        prefix, _, rest = type_name.rpartition(".")
        return f"{self.aliases.get(prefix, prefix)}.{rest}"

    def members(self, type_name: str) -> tuple[dict[str, ET.Element], set[str]]:
        """Structural properties and navigation property names, BaseType chain merged."""
        properties: dict[str, ET.Element] = {}
        navigation: set[str] = set()
        chain: list[ET.Element] = []
        current: str | None = self.qualify(type_name)
        while current:
            element = self.types[current]
            chain.append(element)
            base = element.attrib.get("BaseType")
            current = self.qualify(base) if base else None
        for element in reversed(chain):
            for prop in element.findall(f"{EDM}Property"):
                properties[prop.attrib["Name"]] = prop
            navigation.update(
                nav.attrib["Name"] for nav in element.findall(f"{EDM}NavigationProperty")
            )
        return properties, navigation

    def json_schema(self, type_name: str) -> dict[str, Any]:
        definitions: dict[str, Any] = {}
        root = self._object_schema(self.qualify(type_name), definitions)
        return {**root, "$defs": definitions}

    def _object_schema(self, qualified: str, definitions: dict[str, Any]) -> dict[str, Any]:
        properties, navigation = self.members(qualified)
        schema_properties: dict[str, Any] = {
            name: self._property_schema(prop, definitions) for name, prop in properties.items()
        }
        for name in navigation:  # present only when $expand-ed; checked on their own
            schema_properties.setdefault(name, {"type": ["object", "array", "null"]})
        return {
            "type": "object",
            "properties": schema_properties,
            "patternProperties": ANNOTATIONS,
            "additionalProperties": False,
        }

    def _property_schema(self, prop: ET.Element, definitions: dict[str, Any]) -> dict[str, Any]:
        type_name = prop.attrib["Type"]
        collection = type_name.startswith("Collection(")
        inner = type_name[len("Collection(") : -1] if collection else type_name
        schema = self._type_schema(inner, definitions)
        if collection:
            schema = {"type": "array", "items": schema}
        if prop.attrib.get("Nullable", "true") != "false":
            schema = {"anyOf": [schema, {"type": "null"}]}
        return schema

    def _type_schema(self, type_name: str, definitions: dict[str, Any]) -> dict[str, Any]:
        if type_name in PRIMITIVES:
            return PRIMITIVES[type_name]
        qualified = self.qualify(type_name)
        if qualified in self.enums:
            return {"enum": self.enums[qualified]}
        if qualified in self.types and self.types[qualified].tag == f"{EDM}ComplexType":
            if qualified not in definitions:
                definitions[qualified] = {}  # placeholder against recursion
                definitions[qualified] = self._object_schema(qualified, definitions)
            return {"$ref": f"#/$defs/{qualified}"}
        return {}


@cache
def v1_csdl() -> Csdl:
    return Csdl(require_schema_file("v1.0-Prod.csdl"))


@cache
def beta_mappings() -> dict[str, dict[str, Any]]:
    return {
        kind: json.loads(require_schema_file(f"beta-{kind}-types.json").read_text())[
            "microsoft.graph"
        ]
        for kind in ("entity", "complex", "enum")
    }


@cache
def v1_validator(type_name: str) -> jsonschema.protocols.Validator:
    schema = v1_csdl().json_schema(f"microsoft.graph.{type_name}")
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def check_v1(payload: dict[str, Any], type_name: str) -> None:
    error = jsonschema.exceptions.best_match(v1_validator(type_name).iter_errors(payload))
    if error is not None:
        raise error


def check_beta(
    payload: dict[str, Any],
    type_name: str,
    enums: dict[str, str],
    *,
    entity: bool,
    bases: tuple[str, ...] = (),
) -> None:
    """Names against the beta type mapping (entities inherit ``id``, and the properties of the
    ``bases`` named, as the mapping does not merge them); enum values by hand-given property →
    enum type, as the mapping carries no property types."""
    mappings = beta_mappings()
    kind = "entity" if entity else "complex"
    allowed = {"id"} if entity else set()
    for name in (type_name, *bases):
        known = mappings[kind][name]
        allowed |= set(known["properties"]) | set(known["navigationProperties"])
    unknown = {key for key in payload if not key.startswith("@") and key not in allowed}
    assert not unknown, f"{type_name}: properties not in the beta schema: {sorted(unknown)}"
    for prop, enum_type in enums.items():
        if payload.get(prop) is not None:
            assert payload[prop] in mappings["enum"][enum_type], (
                f"{type_name}.{prop}={payload[prop]!r}"
            )


@pytest.fixture
def raw_get(graph_emulator: GraphEmulator) -> Any:
    """GET the emulator straight (no client parsing) with a valid token."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = graph_emulator.ca_pem_path
    session.headers["Authorization"] = f"Bearer {graph_emulator.issue_access_token()}"

    def get(path: str) -> Any:
        answer = session.get(f"{graph_emulator.graph_url}{path}", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


def test_schema_files_are_there() -> None:
    assert "microsoft.graph.user" in v1_csdl().types
    assert "strongAuthenticationRequirements" in beta_mappings()["complex"]


def test_users_match_the_user_type(graph_emulator: GraphEmulator, raw_get: Any) -> None:
    select = (
        "id,userPrincipalName,displayName,mail,accountEnabled,assignedLicenses,userType,givenName"
    )
    for user in raw_get(f"/v1.0/users?$select={select}")["value"] + raw_get("/v1.0/users")["value"]:
        check_v1(user, "user")
    delta = raw_get(f"/v1.0/users/delta?$select={select}")
    graph_emulator.tenant.remove_user(graph_emulator.tenant.user_id_for(5))
    while "@odata.nextLink" in delta:
        delta = raw_get(delta["@odata.nextLink"].removeprefix(graph_emulator.graph_url))
    changes = raw_get(delta["@odata.deltaLink"].removeprefix(graph_emulator.graph_url))["value"]
    assert changes and all("@removed" in c for c in changes)
    for change in changes:
        check_v1(change, "user")


def test_methods_match_their_types(graph_emulator: GraphEmulator, raw_get: Any) -> None:
    user = graph_emulator.tenant.user_at(9)  # mobile phone, office phone and the app
    graph_emulator.tenant.add_software_oath(user.id)
    methods = raw_get(f"/v1.0/users/{user.id}/authentication/methods")["value"]
    seen = set()
    for method in methods:
        type_name = method["@odata.type"].removeprefix("#microsoft.graph.")
        seen.add(type_name)
        check_v1(method, type_name)
    assert seen == {
        "passwordAuthenticationMethod",
        "phoneAuthenticationMethod",
        "microsoftAuthenticatorAuthenticationMethod",
        "softwareOathAuthenticationMethod",
    }
    for phone in raw_get(f"/v1.0/users/{user.id}/authentication/phoneMethods")["value"]:
        check_v1(phone, "phoneAuthenticationMethod")
    for app in raw_get(f"/v1.0/users/{user.id}/authentication/microsoftAuthenticatorMethods")[
        "value"
    ]:
        check_v1(app, "microsoftAuthenticatorAuthenticationMethod")


def test_beta_hardware_oath_tokens_match_their_type(
    graph_emulator: GraphEmulator, raw_get: Any
) -> None:
    user = graph_emulator.tenant.user_at(9)
    graph_emulator.tenant.add_hardware_oath(user.id)
    listed = raw_get(f"/beta/users/{user.id}/authentication/hardwareOathMethods")["value"]
    in_methods = [
        method
        for method in raw_get(f"/beta/users/{user.id}/authentication/methods")["value"]
        if method["@odata.type"] == "#microsoft.graph.hardwareOathAuthenticationMethod"
    ]
    assert len(listed) == len(in_methods) == 1
    for token in listed + in_methods:
        check_beta(
            token,
            "hardwareOathAuthenticationMethod",
            {},
            entity=True,
            bases=("authenticationMethod",),
        )
    # v1.0 knows no hardware OATH tokens.
    v1 = raw_get(f"/v1.0/users/{user.id}/authentication/methods")["value"]
    assert not any("hardwareOath" in method["@odata.type"] for method in v1)


def test_role_assignments_match_unified_role_assignment(raw_get: Any) -> None:
    answer = raw_get(
        "/v1.0/roleManagement/directory/roleAssignments"
        f"?$filter=roleDefinitionId eq '{GLOBAL_ADMINISTRATOR_ROLE_ID}'&$expand=principal"
    )
    assert answer["value"]
    for assignment in answer["value"]:
        check_v1(assignment, "unifiedRoleAssignment")
        principal = assignment["principal"]
        check_v1(principal, principal["@odata.type"].removeprefix("#microsoft.graph."))


def test_group_held_eligible_and_scoped_roles_match_their_types(
    graph_emulator: GraphEmulator, raw_get: Any
) -> None:
    tenant = graph_emulator.tenant
    group = tenant.add_group("Admins", [tenant.user_id_for(5)])
    tenant.assign_role(GLOBAL_ADMINISTRATOR_ROLE_ID, group.id, principal_type="group")
    tenant.assign_role(GLOBAL_ADMINISTRATOR_ROLE_ID, tenant.user_id_for(6), eligible=True)
    tenant.assign_role(
        GLOBAL_ADMINISTRATOR_ROLE_ID,
        group.id,
        principal_type="group",
        eligible=True,
        directory_scope_id="/administrativeUnits/7bb1a1a0-0000-4000-8000-000000000001",
    )
    query = f"?$filter=roleDefinitionId eq '{GLOBAL_ADMINISTRATOR_ROLE_ID}'&$expand=principal"
    assigned = raw_get(f"/v1.0/roleManagement/directory/roleAssignments{query}")["value"]
    eligible = raw_get(f"/v1.0/roleManagement/directory/roleEligibilityScheduleInstances{query}")[
        "value"
    ]
    assert {item["principal"]["@odata.type"] for item in assigned + eligible} >= {
        "#microsoft.graph.group",
        "#microsoft.graph.user",
    }
    for item in assigned:
        check_v1(item, "unifiedRoleAssignment")
    for item in eligible:
        check_v1(item, "unifiedRoleEligibilityScheduleInstance")
    for item in assigned + eligible:
        principal = item["principal"]
        check_v1(principal, principal["@odata.type"].removeprefix("#microsoft.graph."))
    for member in raw_get(f"/v1.0/groups/{group.id}/members?$select=id")["value"]:
        check_v1(member, "user")
    for found in raw_get(f"/v1.0/users/{tenant.user_id_for(5)}/memberOf/microsoft.graph.group")[
        "value"
    ]:
        check_v1(found, "group")


def test_registration_details_match(raw_get: Any) -> None:
    v1 = raw_get("/v1.0/reports/authenticationMethods/userRegistrationDetails")["value"]
    beta = raw_get("/beta/reports/authenticationMethods/userRegistrationDetails")["value"]
    for item in v1:
        if item["userPreferredMethodForSecondaryAuthentication"] == "":
            # The docs' own guest example answers "" (outside the enum); clients must cope.
            item = {**item, "userPreferredMethodForSecondaryAuthentication": None}
        check_v1(item, "userRegistrationDetails")
    for item in beta:
        check_beta(
            item,
            "userRegistrationDetails",
            {"defaultMfaMethod": "defaultMfaMethodType"},
            entity=True,
        )
        preferred = item["userPreferredMethodForSecondaryAuthentication"]
        assert (
            preferred == ""
            or preferred in beta_mappings()["enum"]["userDefaultAuthenticationMethod"]
        )
    assert any(item["defaultMfaMethod"] != "none" for item in beta)


def test_beta_requirements_and_sign_in_preferences_match(
    graph_emulator: GraphEmulator, raw_get: Any
) -> None:
    for index in (2, 6, 9):
        user_id = graph_emulator.tenant.user_id_for(index)
        check_beta(
            raw_get(f"/beta/users/{user_id}/authentication/requirements"),
            "strongAuthenticationRequirements",
            {"perUserMfaState": "perUserMfaState"},
            entity=False,
        )
        check_beta(
            raw_get(f"/beta/users/{user_id}/authentication/signInPreferences"),
            "signInPreferences",
            {
                "userPreferredMethodForSecondaryAuthentication": "userDefaultAuthenticationMethodType"
            },
            entity=False,
        )


def test_what_the_client_sends_matches_the_schema(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    user_id = graph_emulator.tenant.add_user("Schema Check", alias="schema.check").id
    graph_client.user_requirements_set(user_id, "enforced")
    graph_client.requirements_set_many([(user_id, "disabled")])
    graph_client.phone_method_add(user_id, "+1 5555550123", "mobile")
    graph_client.phone_method_update(
        user_id, "3179e48a-750b-4051-897c-87b9720928f7", "+1 5555550124"
    )
    graph_client.sign_in_preferences_set(
        user_id, user_preferred_method="sms", system_preferred_enabled=False
    )

    bodies = [
        (entry.path, entry.body)
        for entry in graph_emulator.log.all()
        if entry.method in ("PATCH", "POST")
        and entry.path.startswith(("/v1.0/users", "/beta/users"))
    ]
    assert len(bodies) == 5
    for path, body in bodies:
        if path.endswith("/requirements"):
            check_beta(
                body,
                "strongAuthenticationRequirements",
                {"perUserMfaState": "perUserMfaState"},
                entity=False,
            )
        elif path.endswith("/signInPreferences"):
            check_beta(
                body,
                "signInPreferences",
                {
                    "userPreferredMethodForSecondaryAuthentication": "userDefaultAuthenticationMethodType"
                },
                entity=False,
            )
        else:
            check_v1(body, "phoneAuthenticationMethod")


def test_the_checker_catches_a_wrong_shape() -> None:
    with pytest.raises(jsonschema.ValidationError):
        check_v1({"id": "x", "phoneType": "landline"}, "phoneAuthenticationMethod")
    with pytest.raises(jsonschema.ValidationError):
        check_v1({"id": "x", "displayNme": "typo"}, "user")
    with pytest.raises(AssertionError):
        check_beta(
            {"perUserMfaState": "on"},
            "strongAuthenticationRequirements",
            {"perUserMfaState": "perUserMfaState"},
            entity=False,
        )
