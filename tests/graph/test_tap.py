"""Temporary Access Pass over Graph (v1.0 temporaryAccessPassMethods) against the emulator:
the pass is in the answer to its creation only, one per user, within Microsoft's lifetime
bounds; what the client sends and what the emulator answers match Microsoft's schema."""

from __future__ import annotations

import pytest

from mfaportal.graph import GraphBadRequest, GraphClient
from tests.graph.test_schema import check_v1
from tests.graph_emulator import GraphEmulator


@pytest.fixture
def user_id(graph_emulator: GraphEmulator) -> str:
    return graph_emulator.tenant.add_user("Lost Phone", alias="lost.phone").id


def test_graph_shows_the_pass_once_when_it_is_created(
    graph_client: GraphClient, graph_emulator: GraphEmulator, user_id: str
) -> None:
    created = graph_client.temporary_access_pass_create(
        user_id, lifetime_minutes=120, is_usable_once=True
    )
    assert created.temporary_access_pass and created.lifetime_minutes == 120
    assert created.is_usable_once is True
    listed = graph_client.request(
        "GET", f"/users/{user_id}/authentication/temporaryAccessPassMethods"
    ).body["value"]
    assert [item["temporaryAccessPass"] for item in listed] == [None]


def test_a_second_pass_replaces_the_first(graph_client: GraphClient, user_id: str) -> None:
    first = graph_client.temporary_access_pass_create(
        user_id, lifetime_minutes=60, is_usable_once=False
    )
    second = graph_client.temporary_access_pass_create(
        user_id, lifetime_minutes=60, is_usable_once=False
    )
    listed = graph_client.request(
        "GET", f"/users/{user_id}/authentication/temporaryAccessPassMethods"
    ).body["value"]
    assert [item["id"] for item in listed] == [second.id] != [first.id]


@pytest.mark.parametrize("minutes", [9, 43_201])
def test_graph_refuses_a_lifetime_outside_ten_minutes_to_thirty_days(
    graph_client: GraphClient, user_id: str, minutes: int
) -> None:
    with pytest.raises(GraphBadRequest):
        graph_client.temporary_access_pass_create(
            user_id, lifetime_minutes=minutes, is_usable_once=True
        )


def test_the_request_and_the_answer_match_the_schema(
    graph_client: GraphClient, graph_emulator: GraphEmulator, user_id: str
) -> None:
    graph_client.temporary_access_pass_create(
        user_id, lifetime_minutes=60, is_usable_once=True, start="2030-01-01T09:00:00+00:00"
    )
    sent = [
        entry.body
        for entry in graph_emulator.log.all()
        if entry.method == "POST" and entry.path.endswith("/temporaryAccessPassMethods")
    ]
    assert len(sent) == 1
    check_v1(sent[0], "temporaryAccessPassAuthenticationMethod")
    listed = graph_client.request(
        "GET", f"/users/{user_id}/authentication/temporaryAccessPassMethods"
    ).body["value"]
    item = {key: value for key, value in listed[0].items() if not key.startswith("@")}
    check_v1(item, "temporaryAccessPassAuthenticationMethod")
    assert item["isUsable"] is False and item["methodUsabilityReason"] == "NotYetValid"
