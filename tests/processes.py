"""Running the project's own commands in a child Python, with a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_run(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in the repository, without this process's MFAPORTAL_ and DJANGO_
    settings (the child reads its own), plus ``env``; its output captured as text."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MFAPORTAL_", "DJANGO_"))}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
