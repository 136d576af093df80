"""The floor of a full sync (issue 15): a plain client reading what the portal's sync reads.

    python -m bench.graph_floor --database sqlite:///path | postgres://user@host:port/db

Run by ``bench.graph_sync`` in its own process, interleaved with the portal's
``sync_directory --full``, with the same ``MFAPORTAL_*`` variables pointing both at the same
emulator. It reads exactly what a full sync reads, in the same order and with the same
concurrency (``MFAPORTAL_GRAPH_CONCURRENCY`` requests in flight):

1. the registration report, page by page from the start, in the background (paced to the
   reports' 5 requests per 10 s unless ``MFAPORTAL_GRAPH_PACED`` is false, as the sync);
2. ``/users/delta`` with the sync's ``$select``, the next page read while one is written,
   written 2,000 users a transaction; then users not listed are deleted;
3. who holds each built-in admin role: active assignments and PIM eligibilities with the
   principal expanded, and the members of role-assignable groups;
4. every user's per-user MFA state (beta ``requirements``), 20 to a ``$batch``;
5. the methods of every user the report shows with any (v1.0 ``methods`` in ``$batch``,
   paced to half the tenant's per-user read quota), the report's default method, and, for
   users the report leaves out, methods and beta ``signInPreferences`` one by one.

What it reads is parsed and upserted into five small tables with set-based SQL (``INSERT …
ON CONFLICT``, ``executemany``), as ``shared/reference/performance-floors.md`` measures it:
no ORM, no audit, no policy, no status row. It uses plain ``requests`` (a Session with
``trust_env=False``) and a client-credentials token from the same authority.
"""

from __future__ import annotations

import argparse
import os
import queue
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The same names and numbers the portal's client uses: the same reads, the same limits.
# (The role list's names are marked for translation: a bare settings object serves them.)
from django.conf import settings  # noqa: E402

settings.configure(USE_I18N=False)

from mfaportal.core.roles import BUILT_IN_ROLES  # noqa: E402
from mfaportal.graph.client import (  # noqa: E402
    MAX_BATCH_SIZE,
    PACE_MARGIN_SECONDS,
    REPORTS_LIMIT,
    identity_reads_per_10s,
)
from mfaportal.graph.types import USER_SELECT  # noqa: E402

T = TypeVar("T")
R = TypeVar("R")
DB_CHUNK = 2000

PREFIX_INDEXES = [
    f"CREATE INDEX IF NOT EXISTS floor_sync_user_{column}_prefix ON floor_sync_user ({{{column}}})"
    for column in ("display_name", "upn", "mail")
]
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS floor_sync_user (
        object_id VARCHAR(36) PRIMARY KEY, upn VARCHAR(255) NOT NULL, display_name TEXT,
        mail TEXT, account_enabled BOOLEAN, is_licensed BOOLEAN, synced_at DOUBLE PRECISION)""",
    "CREATE INDEX IF NOT EXISTS floor_sync_user_synced ON floor_sync_user (synced_at)",
    # The floor project's users table has these (bench/floor/worker.py): the order of its
    # page and its prefix search. A cache that serves those pages keeps them up to date.
    "CREATE INDEX IF NOT EXISTS floor_sync_user_name_order ON floor_sync_user "
    "(UPPER(display_name), object_id)",
    "CREATE INDEX IF NOT EXISTS floor_sync_user_upn_order ON floor_sync_user "
    "(UPPER(upn), object_id)",
    *PREFIX_INDEXES,
    """CREATE TABLE IF NOT EXISTS floor_sync_role (
        template_id VARCHAR(36), object_id VARCHAR(36), PRIMARY KEY (template_id, object_id))""",
    """CREATE TABLE IF NOT EXISTS floor_sync_mfa (
        object_id VARCHAR(36) PRIMARY KEY, state VARCHAR(16), default_method VARCHAR(32))""",
    """CREATE TABLE IF NOT EXISTS floor_sync_method (
        object_id VARCHAR(36), method_id VARCHAR(64), kind VARCHAR(64), phone_type VARCHAR(32),
        phone_number VARCHAR(64), display_name TEXT, PRIMARY KEY (object_id, method_id))""",
]


class Database:
    """One connection, SQLite (WAL, as the portal's settings) or PostgreSQL (psycopg)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sqlite = parts.scheme == "sqlite"
        self.connection: Any
        if self.sqlite:
            self.connection = sqlite3.connect(parts.path, isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
        else:
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)
        for statement in SCHEMA:
            self.connection.execute(
                statement.format(
                    **{
                        column: f"{column} COLLATE NOCASE"
                        if self.sqlite
                        else f"(UPPER({column}::text)) text_pattern_ops"
                        for column in ("display_name", "upn", "mail")
                    }
                )
            )

    def sql(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def many(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor = self.connection.cursor()
        cursor.executemany(self.sql(statement), rows)

    def one(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        cursor.execute(self.sql(statement), params)
        return list(cursor.fetchall()) if cursor.description else []

    def transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.connection.execute("BEGIN IMMEDIATE" if self.db.sqlite else "BEGIN")

    def __exit__(self, kind: object, *_rest: object) -> None:
        self.db.connection.execute("ROLLBACK" if kind else "COMMIT")


class Pace:
    """At most ``limit`` units in any ``window`` seconds (the published limits)."""

    def __init__(self, limit: int, window: float, *, on: bool) -> None:
        self.limit, self.window, self.on = limit, window, on
        self.spent: deque[tuple[float, int]] = deque()
        self.lock = threading.Lock()

    def take(self, units: int = 1) -> None:
        if not self.on:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                while self.spent and self.spent[0][0] <= now - self.window:
                    self.spent.popleft()
                if sum(u for _t, u in self.spent) + units <= self.limit:
                    self.spent.append((now, units))
                    return
                delay = self.spent[0][0] + self.window - now
            time.sleep(max(0.001, delay))


class Graph:
    """Plain requests: a token, GETs that follow nextLinks, ``$batch`` of GETs."""

    def __init__(self, env: dict[str, str]) -> None:
        self.base = env["MFAPORTAL_GRAPH_URL"].rstrip("/")
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = env["MFAPORTAL_CA_BUNDLE"]
        authority = env["MFAPORTAL_AUTHORITY_HOST"].rstrip("/")
        answer = self.session.post(
            f"{authority}/{env['MFAPORTAL_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": env["MFAPORTAL_CLIENT_ID"],
                "client_secret": env["MFAPORTAL_CLIENT_SECRET"],
                "scope": f"{self.base}/.default",
            },
            timeout=30,
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        self.session.headers["Accept"] = "application/json"

    def get(self, url: str) -> dict[str, Any]:
        return self._send("GET", url if url.startswith("https://") else self.base + url)

    def _send(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        while True:
            answer = self.session.request(method, url, json=body, timeout=30)
            if answer.status_code in (429, 503, 504):
                time.sleep(float(answer.headers.get("Retry-After") or 1))
                continue
            answer.raise_for_status()
            result: dict[str, Any] = answer.json()
            return result

    def pages(self, url: str, pace: Pace | None = None) -> Iterator[list[dict[str, Any]]]:
        next_url: str | None = url
        while next_url:
            if pace is not None:
                pace.take()
            body = self.get(next_url)
            next_url = body.get("@odata.nextLink")
            yield body["value"]

    def batch(self, version: str, urls: list[str]) -> list[Any]:
        """GETs in one ``$batch``; bodies in request order (None where an item failed)."""
        pending = {str(i): url for i, url in enumerate(urls)}
        bodies: dict[str, Any] = {}
        while pending:
            envelope = self._send(
                "POST",
                f"{self.base}/{version}/$batch",
                {"requests": [{"id": i, "method": "GET", "url": u} for i, u in pending.items()]},
            )
            delay = 0.0
            for item in envelope["responses"]:
                if item["status"] in (429, 503, 504):
                    delay = max(delay, float((item.get("headers") or {}).get("Retry-After", 1)))
                    continue
                ok = 200 <= item["status"] < 300
                bodies[item["id"]] = item.get("body") if ok else None
                pending.pop(item["id"], None)
            if pending:
                time.sleep(delay or 1)
        return [bodies[str(i)] for i in range(len(urls))]


def ahead(items: Iterator[T], depth: int) -> Iterator[T]:
    """``items`` pulled by a thread, ``depth`` ahead of the consumer."""
    buffer: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)

    def pull() -> None:
        try:
            for item in items:
                buffer.put((True, item))
            buffer.put((False, None))
        except BaseException as error:  # handed to the consumer
            buffer.put((False, error))

    threading.Thread(target=pull, daemon=True).start()
    while True:
        more, value = buffer.get()
        if not more:
            if value is not None:
                raise value
            return
        yield value


def in_flight(
    pool: ThreadPoolExecutor, call: Callable[[T], R], items: Iterable[T], workers: int
) -> Iterator[tuple[T, R]]:
    """``call`` over ``items``, ``workers`` at a time (twice that queued), answers in order."""
    window: deque[tuple[T, Future[R]]] = deque()
    for item in items:
        window.append((item, pool.submit(call, item)))
        if len(window) >= workers * 2:
            first, future = window.popleft()
            yield first, future.result()
    while window:
        first, future = window.popleft()
        yield first, future.result()


def pieces(items: Iterable[T], size: int) -> Iterator[list[T]]:
    piece: list[T] = []
    for item in items:
        piece.append(item)
        if len(piece) == size:
            yield piece
            piece = []
    if piece:
        yield piece


def method_rows(object_id: str, methods: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            object_id,
            m.get("id"),
            m.get("@odata.type"),
            m.get("phoneType"),
            m.get("phoneNumber"),
            m.get("displayName"),
        )
        for m in methods
    ]


UPSERT_USER = (
    "INSERT INTO floor_sync_user (object_id, upn, display_name, mail, account_enabled, "
    "is_licensed, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (object_id) DO UPDATE SET "
    "upn = excluded.upn, display_name = excluded.display_name, mail = excluded.mail, "
    "account_enabled = excluded.account_enabled, is_licensed = excluded.is_licensed, "
    "synced_at = excluded.synced_at"
)
UPSERT_STATE = (
    "INSERT INTO floor_sync_mfa (object_id, state) VALUES (?, ?) ON CONFLICT (object_id) "
    "DO UPDATE SET state = excluded.state"
)
UPSERT_DEFAULT = (
    "INSERT INTO floor_sync_mfa (object_id, default_method) VALUES (?, ?) ON CONFLICT "
    "(object_id) DO UPDATE SET default_method = excluded.default_method"
)
DELETE_METHODS = "DELETE FROM floor_sync_method WHERE object_id = ?"
INSERT_METHOD = (
    "INSERT INTO floor_sync_method (object_id, method_id, kind, phone_type, phone_number, "
    "display_name) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (object_id, method_id) DO NOTHING"
)


def full_sync(graph: Graph, db: Database, *, workers: int, paced: bool) -> dict[str, int]:
    counts = {"users": 0, "states": 0, "methods_read": 0, "role_holders": 0}
    stages: dict[str, float] = {}
    mark = time.monotonic()

    def stage_done(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        stages[name] = now - mark
        mark = now

    started = time.time()
    limit, window = REPORTS_LIMIT
    report_pace = Pace(limit, window + PACE_MARGIN_SECONDS, on=paced)
    report = ahead(
        (
            [
                (
                    detail["id"],
                    bool(detail.get("methodsRegistered")),
                    detail.get("userPreferredMethodForSecondaryAuthentication"),
                )
                for detail in page
            ]
            for page in graph.pages(
                "/v1.0/reports/authenticationMethods/userRegistrationDetails", pace=report_pace
            )
        ),
        depth=200,
    )
    pool = ThreadPoolExecutor(workers)

    # Users: the next page travels while a group is written.
    url = "/v1.0/users/delta?$select=" + ",".join(USER_SELECT)
    group: list[tuple[Any, ...]] = []
    for page in ahead(graph.pages(url), depth=2):
        for user in page:
            if "@removed" in user:
                continue
            group.append(
                (
                    user["id"],
                    user.get("userPrincipalName") or "",
                    user.get("displayName"),
                    user.get("mail"),
                    bool(user.get("accountEnabled")),
                    bool(user.get("assignedLicenses")),
                    started,
                )
            )
        if len(group) >= DB_CHUNK:
            with db.transaction():
                db.many(UPSERT_USER, group)
            counts["users"] += len(group)
            group = []
    with db.transaction():
        db.many(UPSERT_USER, group)
        counts["users"] += len(group)
        db.one("DELETE FROM floor_sync_user WHERE synced_at < ?", (started,))
    stage_done("users")

    # Roles: who holds each, however they hold it.
    members: dict[str, list[str]] = {}

    def holders(template_id: str) -> set[str]:
        found: set[str] = set()
        for collection in ("roleAssignments", "roleEligibilityScheduleInstances"):
            records = graph.pages(
                f"/v1.0/roleManagement/directory/{collection}?$filter=roleDefinitionId eq "
                f"'{template_id}'&$expand=principal"
            )
            for page in records:
                for record in page:
                    principal = record.get("principal") or {}
                    if principal.get("@odata.type") == "#microsoft.graph.group":
                        group_id = record["principalId"]
                        if group_id not in members:
                            members[group_id] = [
                                m["id"]
                                for p in graph.pages(
                                    f"/v1.0/groups/{group_id}/members?$select=id&$top=999"
                                )
                                for m in p
                            ]
                        found.update(members[group_id])
                    else:
                        found.add(record["principalId"])
        return found

    roles = [role.template_id for role in BUILT_IN_ROLES]
    for template_id, held in in_flight(pool, holders, roles, workers):
        with db.transaction():
            db.one("DELETE FROM floor_sync_role WHERE template_id = ?", (template_id,))
            db.many(
                "INSERT INTO floor_sync_role (template_id, object_id) VALUES (?, ?)",
                [(template_id, oid) for oid in held],
            )
        counts["role_holders"] += len(held)
    stage_done("roles")

    # Per-user MFA state, 20 to a $batch.
    user_ids = [row[0] for row in db.one("SELECT object_id FROM floor_sync_user ORDER BY 1")]

    def states(chunk: list[str]) -> list[Any]:
        return graph.batch("beta", [f"/users/{oid}/authentication/requirements" for oid in chunk])

    buffer: list[tuple[Any, ...]] = []
    for chunk, answers in in_flight(pool, states, pieces(user_ids, MAX_BATCH_SIZE), workers):
        buffer += [(oid, a["perUserMfaState"]) for oid, a in zip(chunk, answers, strict=True) if a]
        if len(buffer) >= DB_CHUNK:
            with db.transaction():
                db.many(UPSERT_STATE, buffer)
            counts["states"] += len(buffer)
            buffer = []
    with db.transaction():
        db.many(UPSERT_STATE, buffer)
    counts["states"] += len(buffer)
    stage_done("states")

    # Methods: where the report shows any, read per user; the report's default method.
    identity = Pace(identity_reads_per_10s(len(user_ids)), 10.0, on=paced)
    had_methods = {row[0] for row in db.one("SELECT DISTINCT object_id FROM floor_sync_method")}

    def methods(version: str, chunk: list[str]) -> list[Any]:
        return graph.batch(version, [f"/users/{oid}/authentication/methods" for oid in chunk])

    def write_methods(read: list[tuple[list[str], Future[list[Any]]]]) -> None:
        rows: list[tuple[Any, ...]] = []
        emptied: list[tuple[Any, ...]] = []
        for chunk, future in read:
            for oid, body in zip(chunk, future.result(), strict=True):
                if body is not None:
                    emptied.append((oid,))
                    rows += method_rows(oid, body["value"])
                    counts["methods_read"] += 1
        with db.transaction():
            db.many(DELETE_METHODS, emptied)
            db.many(INSERT_METHOD, rows)

    covered: set[str] = set()
    previous: list[tuple[list[str], Future[list[Any]]]] | None = None
    for details in report:
        defaults = []
        to_read = []
        for oid, registered, preferred in details:
            covered.add(oid)
            if registered or oid in had_methods:
                to_read.append(oid)
            defaults.append((oid, preferred))
        reads = []
        for chunk in pieces(to_read, MAX_BATCH_SIZE):
            identity.take(len(chunk))
            reads.append((chunk, pool.submit(methods, "v1.0", chunk)))
        if previous is not None:
            write_methods(previous)
        previous = reads
        with db.transaction():
            db.many(UPSERT_DEFAULT, defaults)
    if previous is not None:
        write_methods(previous)

    # Users the report leaves out (disabled ones): methods and preferences one by one.
    uncovered = [oid for oid in user_ids if oid not in covered]

    def preferences(chunk: list[str]) -> list[Any]:
        return graph.batch(
            "beta", [f"/users/{oid}/authentication/signInPreferences" for oid in chunk]
        )

    for group_ids in pieces(uncovered, DB_CHUNK):
        reads = []
        for chunk in pieces(group_ids, MAX_BATCH_SIZE):
            identity.take(len(chunk))
            reads.append((chunk, pool.submit(methods, "v1.0", chunk)))
        write_methods(reads)
        preference_answers = in_flight(
            pool,
            preferences,
            _paced_pieces(pieces(group_ids, MAX_BATCH_SIZE), identity),
            workers,
        )
        rows = [
            (oid, body.get("userPreferredMethodForSecondaryAuthentication"))
            for chunk, bodies in preference_answers
            for oid, body in zip(chunk, bodies, strict=True)
            if body
        ]
        with db.transaction():
            db.many(UPSERT_DEFAULT, rows)
    pool.shutdown()
    stage_done("methods")
    print("stages: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items()))
    return counts


def _paced_pieces(items: Iterable[list[str]], pace: Pace) -> Iterator[list[str]]:
    for piece in items:
        pace.take(len(piece))
        yield piece


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.graph_floor", description=__doc__)
    parser.add_argument("--database", required=True, help="sqlite:///path or postgres://…")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    paced = env.get("MFAPORTAL_GRAPH_PACED", "true").strip().lower() not in {"0", "false", "no"}
    workers = max(1, int(env.get("MFAPORTAL_GRAPH_CONCURRENCY", "4")))
    started = time.monotonic()
    db = Database(args.database)
    counts = full_sync(Graph(env), db, workers=workers, paced=paced)
    summary = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    print(f"floor sync finished in {time.monotonic() - started:.1f} s: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
