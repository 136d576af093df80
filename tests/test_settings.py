"""Settings come from the environment; production refuses to start without a secret key."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.processes import python_run


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return python_run("manage.py", *args, env=env)


PRAGMAS = ("journal_mode", "synchronous", "mmap_size")


def test_a_sqlite_database_file_is_opened_in_wal_mode_and_read_through_mmap(
    tmp_path: Path,
) -> None:
    pragmas = (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        f"    for name in {PRAGMAS!r}:\n"
        "        cursor.execute('PRAGMA ' + name)\n"
        "        print(name, cursor.fetchone()[0])\n"
    )
    # A SQLite file whatever database the suite runs on (CI runs it on PostgreSQL too).
    result = manage(
        "shell",
        "-c",
        pragmas,
        MFAPORTAL_DEBUG="true",
        MFAPORTAL_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'portal.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    found = [line for line in result.stdout.splitlines() if line.split(" ")[0] in PRAGMAS]
    assert found == [
        "journal_mode wal",
        "synchronous 1",  # NORMAL
        "mmap_size 268435456",
    ]


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = manage("check")
    assert result.returncode != 0
    assert "MFAPORTAL_SECRET_KEY is not set" in result.stderr


def test_production_settings_pass_check_deploy_without_warnings(tmp_path: Path) -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        MFAPORTAL_SECRET_KEY="x" * 20 + "-a-long-random-production-key-0123456789",
        MFAPORTAL_ALLOWED_HOSTS="mfa.contoso.test",
        MFAPORTAL_TRUSTED_PROXIES="127.0.0.1/32",  # behind nginx, as docs/deployment.md says
        MFAPORTAL_VAR_DIR=str(tmp_path),
        MFAPORTAL_TELEPHONY="http",
        MFAPORTAL_TELEPHONY_URL="https://sms-gateway.contoso.test/send",
        MFAPORTAL_EMAIL_URL="smtp://mfa:secret@mail.contoso.test:587/?tls=true",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_mode_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    env = {"MFAPORTAL_DEBUG": "true", "MFAPORTAL_VAR_DIR": str(tmp_path)}
    assert manage("check", **env).returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert manage("check", **env).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


PRODUCTION = {
    "MFAPORTAL_SECRET_KEY": "x" * 20 + "-a-long-random-production-key-0123456789",
    "MFAPORTAL_ALLOWED_HOSTS": "mfa.contoso.test",
}


def test_production_refuses_to_start_with_codes_kept_in_clear(tmp_path: Path) -> None:
    """Neither telephony nor mail configured: the outboxes would keep live codes in the
    database and send nothing (issue 14, finding 6)."""
    result = manage("check", **PRODUCTION, MFAPORTAL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "mfa.E001" in result.stderr and "mfa.E002" in result.stderr
    lab = manage(
        "check",
        **PRODUCTION,
        MFAPORTAL_VAR_DIR=str(tmp_path),
        MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION="true",
    )
    assert lab.returncode == 0, lab.stderr


def test_postgresql_connections_plan_no_parallel_workers_and_keep_the_urls_own_options() -> None:
    """Sent as libpq's startup options (issue 15): added to any the database URL gives."""
    show = "from django.conf import settings\nprint(settings.DATABASES['default']['OPTIONS'])"
    url = "postgres://portal@db.invalid:5432/portal?options=-c%20statement_timeout%3D5000"
    result = manage("shell", "-c", show, MFAPORTAL_DEBUG="true", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "'-c statement_timeout=5000 -c max_parallel_workers_per_gather=0'" in result.stdout
