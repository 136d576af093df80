"""The users tab under gunicorn, beside the floor under gunicorn, in alternating rounds.

The portal runs with the shipped ``gunicorn.conf.py`` (its workers and threads from the
environment, as in production); the floor with two sync workers, as the floors file measured
it, each signed in by its own session cookie. A client of ``concurrency`` threads in this process asks for the first page, a new
connection per request, for ``seconds`` per round; rounds alternate between the two servers
so that machine load falls on both alike. Figures: requests per second and p50 / p99 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Served:
    name: str
    port: int
    path: str
    headers: dict[str, str]
    process: subprocess.Popen[bytes]
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"no server on port {port}")


def start(
    name: str, args: list[str], env: dict[str, str], path: str, headers: dict[str, str]
) -> Served:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**os.environ, **env, "MFAPORTAL_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        # gunicorn's own log (a worker that fails to boot says why there).
        stderr=(ROOT / "var" / f"bench-gunicorn-{name}.log").open("w"),
    )
    try:
        _wait_until_up(port)
    except RuntimeError as error:
        raise RuntimeError(f"{error}: see var/bench-gunicorn-{name}.log") from None
    return Served(name, port, path, headers, process)


def _load(served: Served, seconds: float, concurrency: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    errors: list[Any] = []
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        mine = []
        while time.perf_counter() < deadline:
            begun = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
            try:
                connection.request("GET", served.path, headers=served.headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(response.status)
                    return
            except OSError as error:  # the server went away
                errors.append(repr(error))
                return
            finally:
                connection.close()
            mine.append((time.perf_counter() - begun) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(
            f"{served.name}: answers {errors[:5]}; see var/bench-gunicorn-{served.name}.log"
        )
    return latencies, time.perf_counter() - started


def compare(servers: list[Served], rounds: int, seconds: float, concurrency: int) -> None:
    for served in servers:
        _load(served, 1.0, concurrency)  # warm every worker
    for _ in range(rounds):
        for served in servers:
            latencies, took = _load(served, seconds, concurrency)
            served.latencies += latencies
            served.seconds += took


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(served: Served) -> dict[str, float]:
    return {
        "req_s": round(served.throughput, 1),
        "p50_ms": round(statistics.median(served.latencies), 2),
        "p99_ms": round(percentile(served.latencies, 0.99), 2),
    }


def gunicorn_compare(
    *,
    database_url: str,
    floor_database: dict[str, Any],
    session_key: str,
    floor_session_key: str,
    rounds: int = 3,
    seconds: float = 4.0,
    concurrency: int = 8,
) -> dict[str, dict[str, float]]:
    """The users tab's first page under the shipped gunicorn config and the floor's page
    under two sync workers: {"portal": {...}, "floor": {...}}."""
    host = {"Host": "testserver"}
    portal = start(
        "portal",
        ["-c", "gunicorn.conf.py"],
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DATABASE_URL": database_url,
            # The bench's tenant keeps codes in its outboxes, which production refuses
            # (mfa.E001/E002) unless told this is a lab.
            "MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION": "true",
        },
        "/admin/users/",
        {**host, "Cookie": f"sessionid={session_key}"},
    )
    try:
        floor = start(
            "floor",
            ["--workers", "2", "--worker-class", "sync", "bench.floor.wsgi:application"],
            {"FLOOR_DATABASE": json.dumps(floor_database, default=str)},
            "/users/",
            {**host, "Cookie": f"sessionid={floor_session_key}"},
        )
        try:
            compare([portal, floor], rounds, seconds, concurrency)
        finally:
            floor.process.terminate()
            floor.process.wait(timeout=30)
    finally:
        portal.process.terminate()
        portal.process.wait(timeout=30)
    return {"portal": summary(portal), "floor": summary(floor)}
