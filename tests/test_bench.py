"""The benchmark (``make bench``) runs end to end on a small tenant: the portal and its floor
show the same rows, the same self-service content and make the same changes, or it stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_compares_every_page_and_the_enable_with_a_floor_doing_the_same_work(
    tmp_path: Path,
) -> None:
    """Tiny sizes, a few requests: the figures mean nothing here, so a missed target (exit 1
    with its verdict) is allowed; a floor that shows other rows or content, or changes other
    users, stops the run with an assertion, and so fails this test."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MFAPORTAL_", "DJANGO_"))}
    clean["MFAPORTAL_VAR_DIR"] = str(tmp_path)
    small = ("--sizes", "300,400", "--repeat", "2", "--no-gunicorn", "--prefixes", "ad,zo")
    run = subprocess.run(
        [sys.executable, "-m", "bench", *small],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "Traceback" not in run.stderr + run.stdout, run.stderr[-3000:]
    assert run.returncode in (0, 1), run.stderr[-3000:]
    if run.returncode == 1:
        assert run.stdout.rstrip().endswith("some targets missed " + _vendor(run.stdout))
    for variant in (
        "| first page |",
        '| search "zo" |',
        "| /mfa/setup/ GET |",
        "| challenge page GET |",
        "| /legacy/auth, app password |",
    ):
        row = next(line for line in run.stdout.splitlines() if line.startswith(variant))
        assert row.count("|") == 6, row  # portal, floor, ratio and target, all present
    assert "→ Enable, median of 5 rounds alternating with the floor" in run.stdout
    assert "; floor " in run.stdout.split("→ Enable", 1)[1].splitlines()[0]


def _vendor(output: str) -> str:
    engine = "postgresql" if "Database: postgresql" in output else "sqlite3"
    return f"(django.db.backends.{engine})"
