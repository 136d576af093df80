from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """In CI nothing may be skipped: a skip is a test that did not run, so it fails."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where every test must run: {report.longrepr}"


@pytest.fixture
def user_factory(db: None) -> Callable[..., Any]:
    from tests.factories import make_user

    return make_user
