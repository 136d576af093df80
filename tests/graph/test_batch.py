"""JSON $batch: chunks of 20, per-item results, and retries of only the throttled items."""

from __future__ import annotations

import pytest

from mfaportal.graph import (
    BatchRequest,
    GraphClient,
    GraphForbidden,
    GraphNotFound,
    GraphThrottled,
    PerUserMfaState,
)
from tests.graph_emulator import GraphEmulator
from tests.graph_emulator.fixtures import RecordingSleep

REQUIREMENTS = r"^/beta/users/[^/]+/authentication/requirements$"


def user_ids(emulator: GraphEmulator, count: int, start: int = 3) -> list[str]:
    return [emulator.tenant.user_id_for(index) for index in range(start, start + count)]


def test_batch_splits_into_twenties_and_keeps_request_order(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    ids = user_ids(graph_emulator, 45)

    results = graph_client.requirements_get_many(ids)

    assert [result.user_id for result in results] == ids
    assert all(result.ok for result in results)
    expected = [graph_emulator.tenant.find(user_id).per_user_mfa_state for user_id in ids]  # type: ignore[union-attr]
    assert [result.value.per_user_mfa_state for result in results] == expected  # type: ignore[union-attr]
    envelopes = graph_emulator.log.matching(r"^/beta/\$batch$")
    assert [len(envelope.body["requests"]) for envelope in envelopes] == [20, 20, 5]


def test_throttled_batch_items_are_retried_alone_after_the_largest_retry_after(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    ids = user_ids(graph_emulator, 20)
    graph_emulator.faults.add(
        rf"/users/{ids[4]}/authentication/requirements$",
        status=429,
        retry_after=1,
        scope="batch_item",
    )
    graph_emulator.faults.add(
        rf"/users/{ids[9]}/authentication/requirements$",
        status=429,
        retry_after=3,
        scope="batch_item",
    )

    results = graph_client.requirements_set_many([(user_id, "enforced") for user_id in ids])

    assert all(result.ok for result in results)
    assert recording_sleep.delays == [3]
    envelopes = graph_emulator.log.matching(r"^/beta/\$batch$")
    assert len(envelopes) == 2
    retried_urls = [item["url"] for item in envelopes[1].body["requests"]]
    assert retried_urls == [
        f"/users/{ids[4]}/authentication/requirements",
        f"/users/{ids[9]}/authentication/requirements",
    ]
    # Every user was written exactly once.
    writes = graph_emulator.log.matching(REQUIREMENTS, method="PATCH", batch_item=True)
    assert sorted(w.path for w in writes if w.status == 204) == sorted(
        f"/beta/users/{user_id}/authentication/requirements" for user_id in ids
    )
    assert all(graph_emulator.tenant.find(i).per_user_mfa_state == "enforced" for i in ids)  # type: ignore[union-attr]


def test_424_envelope_with_throttled_items_is_handled_like_200(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    ids = user_ids(graph_emulator, 5)
    graph_emulator.faults.add(
        rf"/users/{ids[2]}/authentication/requirements$",
        status=429,
        retry_after=2,
        scope="batch_item",
        envelope_status=424,
    )

    results = graph_client.requirements_get_many(ids)

    assert all(result.ok for result in results)
    assert recording_sleep.delays == [2]
    first, second = graph_emulator.log.matching(r"^/beta/\$batch$")
    assert first.status == 424
    assert [item["url"] for item in second.body["requests"]] == [
        f"/users/{ids[2]}/authentication/requirements"
    ]


def test_bare_424_envelope_retries_the_whole_chunk(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.faults.add(r"^/v1.0/\$batch$", status=424, scope="request", times=1)
    ids = user_ids(graph_emulator, 3)

    results = graph_client.auth_methods_list_many(ids)

    assert all(result.ok for result in results)
    assert len(recording_sleep.delays) == 1
    assert len(graph_emulator.log.matching(r"^/v1.0/\$batch$")) == 2


def test_items_still_throttled_after_every_attempt_carry_graph_throttled(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    ids = user_ids(graph_emulator, 3)
    graph_emulator.faults.add(
        rf"/users/{ids[1]}/authentication/requirements$",
        status=429,
        retry_after=1,
        times=None,
        scope="batch_item",
    )

    results = graph_client.requirements_set_many(
        [(user_id, PerUserMfaState.ENFORCED) for user_id in ids]
    )

    assert [result.ok for result in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, GraphThrottled)
    assert error.code == "TooManyRequests"
    assert recording_sleep.delays == [1, 1, 1, 1]  # five attempts in all


def test_failed_items_other_than_throttling_are_not_retried(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    ids = user_ids(graph_emulator, 3)
    graph_emulator.faults.add(rf"/users/{ids[0]}/", status=403, times=None, scope="batch_item")
    missing_user = "00000000-0000-4000-8000-000000000000"

    results = graph_client.requirements_get_many([*ids, missing_user])

    assert [result.ok for result in results] == [False, True, True, False]
    assert isinstance(results[0].error, GraphForbidden)
    assert results[0].error.code == "Authorization_RequestDenied"
    assert isinstance(results[3].error, GraphNotFound)
    assert recording_sleep.delays == []
    assert len(graph_emulator.log.matching(r"\$batch$")) == 1


def test_enabling_a_registered_user_makes_them_enforced(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    tenant = graph_emulator.tenant
    registered = tenant.user_id_for(9)  # has a mobile phone and the app
    unregistered = tenant.add_user("Fresh User", alias="fresh").id

    graph_client.requirements_set_many([(registered, "enabled"), (unregistered, "enabled")])

    results = graph_client.requirements_get_many([registered, unregistered])
    states = [r.value.per_user_mfa_state for r in results if r.value is not None]
    assert states == [PerUserMfaState.ENFORCED, PerUserMfaState.ENABLED]


def test_generic_batch_mixes_methods_and_reports_each_item(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    user_id = graph_emulator.tenant.user_id_for(3)
    results = graph_client.batch(
        [
            BatchRequest("GET", f"/users/{user_id}?$select=id,displayName"),
            BatchRequest(
                "POST",
                f"/users/{user_id}/authentication/phoneMethods",
                body={"phoneNumber": "+1 5555550100", "phoneType": "mobile"},
            ),
            BatchRequest("GET", "/users/nobody@contoso.test"),
        ]
    )

    assert [result.status for result in results] == [200, 201, 404]
    assert set(results[0].body) == {"@odata.context", "id", "displayName"}
    assert results[1].body["id"] == "3179e48a-750b-4051-897c-87b9720928f7"
    with pytest.raises(GraphNotFound):
        results[2].raise_for_error()
    (envelope,) = graph_emulator.log.matching(r"^/v1.0/\$batch$")
    post = envelope.body["requests"][1]
    assert post["headers"]["Content-Type"] == "application/json"


def test_duplicate_batch_ids_are_refused_before_sending(graph_client: GraphClient) -> None:
    with pytest.raises(ValueError, match="unique"):
        graph_client.batch(
            [BatchRequest("GET", "/users", id="a"), BatchRequest("GET", "/users", id="A")]
        )
