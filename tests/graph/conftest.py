"""Fixtures for the Graph client tests: the emulator fixtures, shared with other packages."""

from __future__ import annotations

import sys
from pathlib import Path

# `tests.graph_emulator` must be importable whether or not tests/ is a package and whether
# pytest runs as `pytest` (repo root not on sys.path) or `python -m pytest`.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.graph_emulator.fixtures import (  # noqa: E402, F401 - fixtures are found by name
    emulator_ca,
    graph_client,
    graph_config,
    graph_emulator,
    graph_token_provider,
    recording_sleep,
)
