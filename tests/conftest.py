from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compiled catalogues (.mo) are generated, never committed: build any missing or older
    than its .po, so a plain `pytest` on a fresh clone shows translated pages too."""
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        msgfmt = shutil.which("msgfmt")
        if msgfmt is None:
            raise pytest.UsageError(
                "msgfmt not found: install GNU gettext to compile translations."
            )
        # The same check `manage.py compilemessages` makes.
        subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)], check=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """In CI nothing may be skipped: a skip is a test that did not run, so it fails."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where every test must run: {report.longrepr}"


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Every test starts and ends in the default language. A test client request in Spanish
    leaves Spanish active in the test's thread (LocaleMiddleware activates the language and
    nothing deactivates it), which would change the words of every later test's messages."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def user_factory(db: None) -> Callable[..., Any]:
    from tests.factories import make_user

    return make_user
