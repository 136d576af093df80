"""Throttling, unavailability, timeouts and dropped connections: retried, bounded, typed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from mfaportal.graph import (
    GraphClient,
    GraphConfig,
    GraphForbidden,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
    TokenProvider,
    parse_retry_after,
)
from tests.graph_emulator import GraphEmulator
from tests.graph_emulator.fixtures import RecordingSleep

USERS = r"^/v1.0/users$"


def test_429_on_a_page_waits_retry_after_then_continues(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.page_size = 20
    # The second page is throttled twice.
    graph_emulator.faults.add(USERS, status=429, retry_after=7, times=2, after=1)

    users = [user for page in graph_client.users_list(page_size=20) for user in page]

    assert len(users) == 60
    assert recording_sleep.delays == [7, 7]
    requests = graph_emulator.log.matching(USERS)
    assert [request.status for request in requests] == [200, 429, 429, 200, 200]
    # The retried request is the same page: the nextLink was not lost.
    assert requests[1].query == requests[2].query == requests[3].query
    assert requests[3].header("retry-attempt") == "2"


def test_retry_after_is_really_waited_for(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    client = GraphClient(graph_config, token_provider=TokenProvider(graph_config))  # real sleep
    graph_emulator.faults.add(r"/authentication/methods$", status=429, retry_after=1, times=1)

    client.auth_methods_list(graph_emulator.tenant.user_id_for(9))

    throttled, retried = graph_emulator.log.matching(r"/authentication/methods$")
    assert throttled.status == 429 and retried.status == 200
    assert retried.time - throttled.time >= 0.95


def test_retry_after_as_http_date(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    graph_emulator.faults.add(USERS, status=503, retry_after=soon, times=1)

    next(graph_client.users_list())

    (delay,) = recording_sleep.delays
    assert 15 <= delay <= 21


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("10") == 10
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_without_retry_after_is_exponential_with_jitter(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    delays: list[float] = []
    client = GraphClient(
        graph_config,
        token_provider=TokenProvider(graph_config),
        sleep=delays.append,
        jitter=lambda: 1.0,  # the top of each jitter range
    )
    graph_emulator.faults.add(USERS, status=503, times=4)

    next(client.users_list())

    assert delays == [0.5, 1.0, 2.0, 4.0]


def test_503_retried_then_given_up_with_a_clear_error(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.faults.add(USERS, status=503, times=None, code="serviceNotAvailable")

    with pytest.raises(GraphUnavailable) as caught:
        next(graph_client.users_list())

    assert caught.value.status == 503
    assert caught.value.code == "serviceNotAvailable"
    assert "gave up after 5 attempts" in str(caught.value)
    assert len(graph_emulator.log.matching(USERS)) == 5
    assert len(recording_sleep.delays) == 4


def test_throttling_stops_at_the_retry_time_limit(
    graph_emulator: GraphEmulator, graph_config: GraphConfig
) -> None:
    config = graph_emulator.graph_config(max_retry_seconds=10)
    delays: list[float] = []
    client = GraphClient(config, token_provider=TokenProvider(graph_config), sleep=delays.append)
    graph_emulator.faults.add(USERS, status=429, retry_after=60, times=None)

    with pytest.raises(GraphThrottled) as caught:
        next(client.users_list())

    assert delays == []  # waiting 60 s would pass the 10 s budget: give up at once
    assert caught.value.retry_after == 60
    assert "retry time limit" in str(caught.value)


def test_timeouts_retried_then_raised_as_graph_timeout(graph_emulator: GraphEmulator) -> None:
    config = graph_emulator.graph_config(timeout=0.3, max_attempts=3)
    delays: list[float] = []
    client = GraphClient(config, token_provider=TokenProvider(config), sleep=delays.append)
    graph_emulator.faults.add(USERS, delay=1.0, times=None)

    started = time.monotonic()
    with pytest.raises(GraphTimeout) as caught:
        next(client.users_list())

    assert caught.value.status is None
    assert caught.value.code == "timeout"
    assert "no answer within 0.3 s" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)
    assert len(delays) == 2
    assert time.monotonic() - started < 3


def test_slow_answer_within_timeout_then_success(graph_emulator: GraphEmulator) -> None:
    # A wide margin between the timeout and the slow answer, and for the retry's own answer:
    # a loaded machine must not turn the quick retry into a second timeout.
    config = graph_emulator.graph_config(timeout=1.5)
    client = GraphClient(config, token_provider=TokenProvider(config), sleep=lambda _s: None)
    graph_emulator.faults.add(USERS, delay=4.0, times=1)

    assert len(next(client.users_list())) == 60
    # The first, slow request is logged once answered (after the test); the retry is there.
    (answered,) = graph_emulator.log.matching(USERS)
    assert answered.header("retry-attempt") == "1"


def test_dropped_connection_is_retried(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.faults.add(USERS, drop_connection=True, times=2)

    assert len(next(graph_client.users_list())) == 60
    assert len(recording_sleep.delays) == 2


def test_connection_refused_is_graph_unavailable(graph_emulator: GraphEmulator) -> None:
    config = graph_emulator.graph_config(max_attempts=2)
    provider = TokenProvider(config)
    provider.get_access_token()  # while the emulator still runs
    client = GraphClient(config, token_provider=provider, sleep=lambda _s: None)
    graph_emulator.stop()

    with pytest.raises(GraphUnavailable) as caught:
        next(client.users_list())

    assert caught.value.code == "connectionError"
    assert caught.value.status is None


def test_403_is_graph_forbidden_with_graphs_code_and_not_retried(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    user_id = graph_emulator.tenant.user_id_for(5)
    graph_emulator.faults.add(r"/authentication/requirements$", status=403, times=None)

    with pytest.raises(GraphForbidden) as caught:
        graph_client.user_requirements_set(user_id, "enforced")

    assert caught.value.status == 403
    assert caught.value.code == "Authorization_RequestDenied"
    assert caught.value.request_id
    assert recording_sleep.delays == []
    assert len(graph_emulator.log.matching(r"/authentication/requirements$")) == 1
