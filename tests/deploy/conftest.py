"""The production path in subprocesses: a fresh database, production settings, real servers.

Nothing here uses the test settings: every command runs ``manage.py`` (or gunicorn) in a
clean environment, the way an operator would. When ``DATABASE_URL`` names PostgreSQL (CI's
second run) a separate database is created on that server and dropped afterwards; otherwise
a SQLite file in the test's tmp directory.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "Prod-Passw0rd!" + secrets.token_hex(4)
COMMAND_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s: {process.args!r}")


def _fresh_postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    """Create a database beside the one DATABASE_URL names; return its URL and a dropper."""
    import psycopg

    parts = urlsplit(url)
    name = f"mfaportal_deploy_{uuid.uuid4().hex[:12]}"
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(parts._replace(path=f"/{name}")), drop


@dataclass
class Production:
    """One production installation: its environment and the processes it started."""

    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, name: str, *command: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = Path(self.env["MFAPORTAL_VAR_DIR"]) / f"{name}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env={**self.env, **extra_env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)

    def log(self, name: str) -> str:
        return (Path(self.env["MFAPORTAL_VAR_DIR"]) / f"{name}.log").read_text(errors="replace")

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:]
            for log in self.logs
            if log.exists()
        )


@pytest.fixture
def production(tmp_path: Path) -> Iterator[Production]:
    """Production settings (no debug) on a database of their own; processes stopped after."""
    drop: Callable[[], None] | None = None
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url, drop = _fresh_postgres_database(database_url)
    else:
        database_url = f"sqlite:///{tmp_path / 'mfaportal.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MFAPORTAL_", "DJANGO_"))}
    env.update(
        DATABASE_URL=database_url,
        MFAPORTAL_SECRET_KEY=secrets.token_urlsafe(50),
        MFAPORTAL_ALLOWED_HOSTS="127.0.0.1",
        MFAPORTAL_STATIC_ROOT=str(tmp_path / "static"),
        MFAPORTAL_VAR_DIR=str(tmp_path),
        MFAPORTAL_TRUSTED_PROXIES="127.0.0.1/32",
        MFAPORTAL_LOG_FORMAT="json",
        # Production refuses the outboxes (codes in clear): a gateway and a mail server,
        # which these tests never reach since nothing they do sends a code.
        MFAPORTAL_TELEPHONY="http",
        MFAPORTAL_TELEPHONY_URL="https://sms-gateway.invalid/send",
        MFAPORTAL_EMAIL_URL="smtp://mail.invalid:587/?tls=true",
    )
    installation = Production(env=env)
    try:
        yield installation
    finally:
        installation.stop_all()
        if drop is not None:
            drop()
