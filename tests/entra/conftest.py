"""Graph-mode fixtures: the emulator (tests.graph_emulator.fixtures) and the portal's settings
pointed at it, as `MFAPORTAL_DIRECTORY=graph` and the emulator's credentials would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.graph_emulator.fixtures import (  # noqa: E402, F401 - fixtures are found by name
    RecordingSleep,
    emulator_ca,
    graph_client,
    graph_config,
    graph_emulator,
    graph_token_provider,
    recording_sleep,
)
from tests.graph_emulator.server import GraphEmulator  # noqa: E402


@pytest.fixture
def graph_mode(graph_emulator: GraphEmulator, settings: Any) -> Iterator[GraphEmulator]:  # noqa: F811
    """The portal in graph mode against the emulator (what its printed environment sets)."""
    from mfaportal.graph import reset_token_providers

    settings.MFAPORTAL_DIRECTORY = "graph"
    settings.MFAPORTAL_TENANT_ID = graph_emulator.tenant_id
    settings.MFAPORTAL_CLIENT_ID = graph_emulator.client_id
    settings.MFAPORTAL_CLIENT_SECRET = graph_emulator.client_secret
    settings.MFAPORTAL_AUTHORITY_HOST = graph_emulator.authority_host
    settings.MFAPORTAL_GRAPH_URL = graph_emulator.graph_url
    settings.MFAPORTAL_CA_BUNDLE = graph_emulator.ca_pem_path
    settings.MFAPORTAL_GRAPH_TIMEOUT = 5.0
    yield graph_emulator
    reset_token_providers()


__all__ = ["RecordingSleep"]
