"""pytest fixtures for the Graph emulator, importable from any test package:

    # tests/<app>/conftest.py
    from tests.graph_emulator.fixtures import (  # noqa: F401 - fixtures are found by name
        emulator_ca, graph_emulator, graph_config, graph_token_provider, graph_client,
    )

``graph_emulator`` is a fresh emulator per test (its own tenant, faults and request log) on
a free port; the CA is shared by the session so certificates are made once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import trustme

from .server import GraphEmulator

if TYPE_CHECKING:
    from mfaportal.graph import GraphClient, GraphConfig, TokenProvider

# Test tenants stay small: page sizes are set per test when paging is the point.
DEFAULT_TEST_USERS = 60


@pytest.fixture(scope="session")
def emulator_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def graph_emulator(emulator_ca: trustme.CA) -> Iterator[GraphEmulator]:
    """A running emulator with a small tenant; for a big one build your own:
    ``with GraphEmulator(users=100_000, ca=emulator_ca) as emulator: ...``"""
    with GraphEmulator(users=DEFAULT_TEST_USERS, ca=emulator_ca) as emulator:
        yield emulator


@pytest.fixture
def graph_config(graph_emulator: GraphEmulator) -> GraphConfig:
    """Short timeout and retry budget: a test that waits, waits on purpose."""
    return graph_emulator.graph_config(timeout=5.0, max_retry_seconds=30.0)


@pytest.fixture
def graph_token_provider(graph_config: GraphConfig) -> TokenProvider:
    """A new TokenProvider (so a new MSAL app and caches) for every test: MSAL caches token
    errors and throttling answers per application object."""
    from mfaportal.graph import TokenProvider

    return TokenProvider(graph_config)


class RecordingSleep:
    """A stand-in for time.sleep that records the delays asked for and does not wait.

    ``monotonic`` is a clock these sleeps move on (real time plus every delay slept): the
    client measures deadlines and paces on it, and the emulator its rate limits."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._slept = 0.0

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self._slept += seconds

    def monotonic(self) -> float:
        return time.monotonic() + self._slept


@pytest.fixture
def recording_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def graph_client(
    graph_emulator: GraphEmulator,
    graph_config: GraphConfig,
    graph_token_provider: TokenProvider,
    recording_sleep: RecordingSleep,
) -> GraphClient:
    """A GraphClient on the emulator whose retries do not really sleep (see recording_sleep);
    the emulator's rate limits run on the same clock."""
    from mfaportal.graph import GraphClient

    graph_emulator.clock = recording_sleep.monotonic
    return GraphClient(
        graph_config,
        token_provider=graph_token_provider,
        sleep=recording_sleep,
        clock=recording_sleep.monotonic,
    )
