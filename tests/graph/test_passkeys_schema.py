"""The emulator's fido2Methods answer in the shape of Microsoft's v1.0 schema."""

from __future__ import annotations

import pytest

from tests.graph.test_schema import (
    check_v1,
    raw_get,  # noqa: F401  (the fixture, found by name)
)
from tests.graph_emulator.server import GraphEmulator


def test_fido2_methods_match_their_type(
    graph_emulator: GraphEmulator, request: pytest.FixtureRequest
) -> None:
    get = request.getfixturevalue("raw_get")
    user = graph_emulator.tenant.user_at(9)
    key = graph_emulator.tenant.add_fido2(user.id, "Desk key")
    listed = get(f"/v1.0/users/{user.id}/authentication/fido2Methods")["value"]
    one = get(f"/v1.0/users/{user.id}/authentication/fido2Methods/{key.id}")
    in_methods = [
        method
        for method in get(f"/v1.0/users/{user.id}/authentication/methods")["value"]
        if method["@odata.type"] == "#microsoft.graph.fido2AuthenticationMethod"
    ]
    assert len(listed) == len(in_methods) == 1
    for method in [*listed, *in_methods]:
        check_v1(method, "fido2AuthenticationMethod")
    check_v1({k: v for k, v in one.items() if k != "@odata.context"}, "fido2AuthenticationMethod")
