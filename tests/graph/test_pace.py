"""Pacing to the limits Graph publishes: no more than the limit in any window."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mfaportal.graph import (
    MAX_BATCH_SIZE,
    GraphClient,
    GraphConfig,
    Pace,
    identity_reads_per_10s,
)
from tests.graph_emulator import GraphEmulator
from tests.graph_emulator.fixtures import RecordingSleep


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_a_pace_lets_the_limit_through_then_waits_for_the_oldest_to_leave_the_window() -> None:
    time = FakeTime()
    pace = Pace(5, 10.0, clock=time.clock, sleep=time.sleep)
    sent = []
    for _ in range(12):
        pace.take()
        sent.append(time.now)

    assert sent[:5] == [0.0] * 5 and sent[5] == 10.0 and sent[-1] == 20.0
    for index in range(5, 12):  # never six in any 10 s
        assert sent[index] - sent[index - 5] >= 10.0


def test_a_slot_counts_the_request_from_when_its_answer_came() -> None:
    time = FakeTime()
    pace = Pace(1, 10.0, clock=time.clock, sleep=time.sleep)
    with pace.slot():
        time.sleep(3)  # a slow answer

    pace.take()

    assert time.now == 13.0


def test_a_pace_holds_across_threads() -> None:
    sleep = RecordingSleep()
    pace = Pace(20, 10.0, clock=sleep.monotonic, sleep=sleep)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _i: pace.take(3), range(20)))

    assert sum(sleep.delays) >= 20  # 60 units at 20 per 10 s: two more windows


def test_per_user_reads_follow_the_tenant_size_quota_with_room_to_spare() -> None:
    # throttling-limits.md: S (under 50 users) 3,500, M (50-500) 5,000, L 8,000 per 10 s.
    assert identity_reads_per_10s(10) == 1_750
    assert identity_reads_per_10s(300) == 2_500
    assert identity_reads_per_10s(100_000) == 4_000


def test_the_registration_report_is_paced_and_never_throttled(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.report_page_size = 4  # 15 pages

    pages = list(graph_client.registration_details())

    assert sum(len(page) for page in pages) == 59  # the disabled user is not in the report
    answers = graph_emulator.log.matching("userRegistrationDetails")
    assert len(answers) == 15 and {answer.status for answer in answers} == {200}
    assert sum(recording_sleep.delays) >= 20


def test_a_client_told_not_to_keep_the_published_limits_reads_without_waiting(
    graph_emulator: GraphEmulator, graph_token_provider: Any, recording_sleep: RecordingSleep
) -> None:
    # A lab whose Graph keeps no limit (the benchmark's --no-report-limit): the client's own
    # pacing is what would be measured, so it can be switched off; it is on by default.
    graph_emulator.report_limit = None
    graph_emulator.report_page_size = 4  # 15 pages
    client = GraphClient(
        graph_emulator.graph_config(paced=False),
        token_provider=graph_token_provider,
        sleep=recording_sleep,
        clock=recording_sleep.monotonic,
    )

    pages = list(client.registration_details())
    identity = client.pace(identity_reads_per_10s(100_000), 10.0)
    for _ in range(10):
        identity.take(MAX_BATCH_SIZE * 100)

    assert sum(len(page) for page in pages) == 59
    assert recording_sleep.delays == []
    assert GraphConfig(tenant_id="t", client_id="c", client_secret="s").paced is True
