"""The benchmark (``make bench``) runs end to end on a small tenant: the portal and its floor
show the same rows, the same self-service content and make the same changes, or it stops."""

from __future__ import annotations

from pathlib import Path

from mfaportal.settings import SQLITE_ENGINE
from tests.processes import python_run


def test_the_benchmark_compares_every_page_and_the_enable_with_a_floor_doing_the_same_work(
    tmp_path: Path,
) -> None:
    """Tiny sizes, a few requests: the figures mean nothing here, so a missed target (exit 1
    with its verdict) is allowed; a floor that shows other rows or content, or changes other
    users, stops the run with an assertion, and so fails this test."""
    small = ("--sizes", "300,400", "--repeat", "2", "--no-gunicorn", "--prefixes", "ad,zo")
    run = python_run("-m", "bench", *small, env={"MFAPORTAL_VAR_DIR": str(tmp_path)}, timeout=600)
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
    # Portal and floor take turns request by request (``--batch``, 1 by default).
    assert "(2 requests a variant, 1 in a row before the other side's turn)" in run.stdout
    # The floor serves every size, so the self-service pages are timed at each one too.
    by_size = run.stdout.split("Portal by tenant size", 1)[1]
    setup = next(line for line in by_size.splitlines() if line.startswith("| /mfa/setup/ GET |"))
    assert "—" not in setup and setup.count("(5 q)") == 2, setup
    assert "→ Enable, median of 5 rounds alternating with the floor" in run.stdout
    assert "; floor " in run.stdout.split("→ Enable", 1)[1].splitlines()[0]


def _vendor(output: str) -> str:
    """The engine the run's last line names: Django's for PostgreSQL, the portal's for
    SQLite (mfaportal.core.sqlite)."""
    engine = "django.db.backends.postgresql" if "Database: postgresql" in output else SQLITE_ENGINE
    return f"({engine})"


def test_the_call_count_compares_every_page_with_the_floor(tmp_path: Path) -> None:
    """``python -m bench.calls`` counts each page's Python calls on both sides: every
    variant gets a count from each, and the portal's users page makes more than none."""
    run = python_run(
        "-m", "bench.calls", "--users", "300", "--prefixes", "zo", "--repeat", "2",
        env={"MFAPORTAL_VAR_DIR": str(tmp_path)}, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {
        line.split(" | ")[0].strip("| "): line.strip("|").split(" | ")[1:]
        for line in run.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| variant")
    }
    assert {"first page", 'search "zo"', "/mfa/setup/ GET", "/legacy/auth, app password"} <= set(
        rows
    )
    for name, (portal, floor, ratio) in rows.items():
        assert float(portal.replace(",", "")) > 100 and float(floor.replace(",", "")) > 100, name
        assert float(ratio) > 0, name


def test_the_placeholder_comparison_times_each_page_both_ways(tmp_path: Path) -> None:
    """``python -m bench.placeholders`` times each page with Django's conversion and with the
    portal's kept one; on PostgreSQL it says there is nothing to compare."""
    run = python_run(
        "-m", "bench.placeholders", "--users", "300", "--rounds", "1", "--batch", "2",
        env={"MFAPORTAL_VAR_DIR": str(tmp_path)}, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    if "Database: postgresql" in run.stdout or "Nothing to compare on postgresql" in run.stdout:
        assert "only SQLite converts placeholders" in run.stdout
        return
    rows = [line for line in run.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == [
        "first page",
        'search "zo"',
        'search "qx" (nobody)',
        "/legacy/auth, app password",
    ]
    for row in rows:
        django_ms, kept_ms = (float(cell) for cell in row.strip("|").split(" | ")[1:3])
        assert django_ms > 0 and kept_ms > 0, row
