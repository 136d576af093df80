"""Time the admin users page and a select-all bulk step on growing tenants.

    python -m bench                       # SQLite file in var/, sizes 1k, 10k, 100k
    DATABASE_URL=postgres://... python -m bench
    python -m bench --sizes 1000,10000 --repeat 30
    BENCH_USERS=10000 python -m bench     # a quick run: 1k and 10k users only
    python -m bench --prefixes all        # search every two-letter prefix at the largest size

A throwaway database is created beside the configured one (``test_<name>``, or
var/bench.sqlite3) and dropped at the end; the configured database is never touched. Each
size is seeded with the demo tenant (``seed_demo``'s generator, so 1k is the first 1k of 10k),
then each page variant is requested through Django's test client as a signed-in global
administrator: full request and response, middleware, session, auth, template. The figures
are the server-side time per request and the number of SQL queries.

Beside the portal runs the floor (``bench/floor``): a minimal Django project in a second
process, reading the same users copied into its own table, timed in the same rounds as the
portal (issue 15). Every figure of the largest tenant is printed as portal, floor and ratio,
with the load average; the exit status is 1 when a target, ratios included, is missed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import string
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models.functions import Upper  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from mfaportal.directory.models import DirectoryUser  # noqa: E402
from mfaportal.mfa.models import MfaState, UserMfa  # noqa: E402
from mfaportal.mfa.selectors.users import Cursor  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
BULK_SIZE = 10_000
# Issue 3's absolute targets; the 100k/1k ratio is issue 15's 1.3 (issue 3 asked for 1.5).
TARGETS = {"p50_ms": 50.0, "p95_ms": 100.0, "ratio": 1.3, "bulk_s": 5.0}
# Issue 15: the portal against the floor measured in the same rounds.
FLOOR_TARGETS = {"page_p50": 2.0, "search_p95": 2.0, "bulk": 1.5, "legacy_p50": 1.5}
# Under gunicorn: at least this share of the floor's requests per second, at most this p99.
GUNICORN_TARGETS = {"throughput": 0.6, "p99": 2.0}
# The prefixes issue 15 names; ``--prefixes all`` measures all 676 at the largest size.
PREFIXES = ("ad", "ma", "sv", "zo", "jo", "an", "mi", "ch", "li", "pa")


@dataclass
class Measure:
    variant: str
    size: int
    p50_ms: float
    p95_ms: float
    queries: int
    rows: int
    floor_p50_ms: float | None = None
    floor_p95_ms: float | None = None


@dataclass
class BulkMeasure:
    size: int
    users: int
    seconds: float
    queries: int
    audit_rows: int
    floor_seconds: float | None = None


@dataclass
class Report:
    vendor: str
    database: str
    repeat: int
    batch: int = 1
    load: list[float] = field(default_factory=list)
    pages: list[Measure] = field(default_factory=list)
    bulk: list[BulkMeasure] = field(default_factory=list)
    gunicorn: dict[str, dict[str, float]] = field(default_factory=dict)


def deep_page(size: int) -> tuple[str, str]:
    """The page that starts halfway down the default order (page size 50), for the portal
    and for the floor."""
    middle = (
        DirectoryUser.objects.filter(account_enabled=True)
        .annotate(key=Upper("display_name"))
        .order_by("key", "id")
        .values_list("key", "id")[size // 2 : size // 2 + 1]
    )
    key, user_id = middle[0]
    portal = f"/admin/users/?after={Cursor(key, user_id).encode()}&page={size // 100}"
    return portal, "/users/?" + urlencode({"after": f"{user_id}:{key}"})


def variants(size: int, prefixes: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Each variant's portal address and the floor's address for the same rows."""
    deep, floor_deep = deep_page(size)
    found = {
        "first page": ("/admin/users/", "/users/"),
        "status=Enforced": ("/admin/users/?status=enforced", "/users/?status=2"),
        "deep page": (deep, floor_deep),
        "sorted by user name": ("/admin/users/?sort=user_principal_name", "/users/?sort=upn"),
        "htmx fragment, first page": ("/admin/users/#fragment", "/users/#fragment"),
        # Active users (seed 000's way in) pages through the same selector.
        "Active users, first page": ("/admin/active-users/", "/users/"),
        'Active users, search "ad"': ("/admin/active-users/?q=ad", "/users/?q=ad"),
    }
    for prefix in prefixes:
        found[f'search "{prefix}"'] = (f"/admin/users/?q={prefix}", f"/users/?q={prefix}")
        # As a person types in the search box: htmx asks for the results alone, on both.
        found[f'search "{prefix}", as typed'] = (
            f"/admin/users/?q={prefix}#fragment",
            f"/users/?q={prefix}#fragment",
        )
    return found


def is_search(variant: str) -> bool:
    return variant.startswith(("search", "Active users, search"))


@dataclass
class Tenant:
    """One seeded database of a given size, and its signed-in admin's client."""

    size: int
    database: str
    client: Client = field(default_factory=Client)
    urls: dict[str, str] = field(default_factory=dict)
    floor_urls: dict[str, str] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)
    floor_timings: dict[str, list[float]] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    floor_session: str = ""
    pages: dict[str, Page] = field(default_factory=dict)


class Floor:
    """The floor project in its own process (``bench.floor.worker``), one command a line."""

    KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")

    def __init__(self) -> None:
        database = {key: connection.settings_dict.get(key) for key in self.KEYS}
        database["OPTIONS"] = database["OPTIONS"] or {}
        if connection.vendor == "sqlite":
            # A minimal project runs Django's own backend, not the portal's (core.sqlite).
            database["ENGINE"] = "django.db.backends.sqlite3"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.floor.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "FLOOR_DATABASE": json.dumps(database, default=str)},
        )

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command, default=str) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the floor process stopped")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def use(self, database: str) -> None:
        self.ask(cmd="use", name=database)

    def time(self, url: str, batch: int, headers: dict[str, Any] | None = None) -> list[float]:
        """Time ``batch`` requests in a row, none before them untimed (``measure`` warms
        both sides alike, once per visit)."""
        timings: list[float] = self.request(url, batch, headers, warm=False)["ms"]
        return timings

    def request(
        self,
        url: str,
        batch: int,
        headers: dict[str, Any] | None = None,
        shows: tuple[str, ...] = (),
        warm: bool = True,
    ) -> dict[str, Any]:
        """Time ``batch`` requests (after an untimed one when ``warm``); the answer also
        names which of ``shows`` the page lacks."""
        htmx = url.endswith("#fragment")
        return self.ask(
            cmd="time",
            url=url.removesuffix("#fragment"),
            n=batch,
            htmx=htmx,
            headers=headers,
            shows=shows,
            warm=warm,
        )

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the worker stops at the end of its input
            self.process.wait(timeout=30)


def use(database: str) -> None:
    """Point the default connection at one tenant's database."""
    connection.close()
    connection.settings_dict["NAME"] = database


def request(client: Client, url: str) -> Any:
    headers: dict[str, Any] = {}
    if url.endswith("#fragment"):
        url = url.removesuffix("#fragment")
        headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "results"}
    return client.get(url, **headers)


@dataclass
class Page:
    """A self-service request timed beside the users tab, and the floor's counterpart."""

    client: Client
    url: str
    headers: dict[str, Any]
    floor_url: str
    floor_headers: dict[str, Any] = field(default_factory=dict)
    # What both pages must show, so that the floor does the same work on the same rows.
    shows: tuple[str, ...] = ()


def selfservice_pages() -> tuple[dict[str, Page], dict[str, Any]]:
    """/mfa/setup/ for a registered user, the sign-in challenge page, and /legacy/auth with an
    app password, for a user of their own among the seeded tenant; and the app password, for
    the floor to hash its own way."""
    from datetime import timedelta

    from django.utils import timezone

    from bench.selfservice import challenge_pending
    from mfaportal.directory.services import session_proof_mark
    from mfaportal.mfa import totp
    from mfaportal.mfa.models import AppPassword, MfaState, VerificationMethod
    from mfaportal.mfa.services.app_passwords import app_password_digest, app_password_generate

    user = DirectoryUser.objects.create(
        user_principal_name="bench-self@contoso.test",
        display_name="Bench Self",
        password="!",
    )
    UserMfa.objects.create(user=user, state=MfaState.ENFORCED, default_method="PhoneAppOTP")
    VerificationMethod.objects.create(
        user=user, kind="authentication_phone", phone_number="+14255550123"
    )
    ciphertext, key_id = totp.secret_seal(totp.secret_generate(), object_id=str(user.object_id))
    method = VerificationMethod.objects.create(
        user=user,
        kind="authenticator_app",
        app_mode="code",
        secret_ciphertext=ciphertext,
        secret_key_id=key_id,
    )
    secret = app_password_generate()
    AppPassword.objects.create(user=user, name="mail", digest=app_password_digest(secret))
    basic = "Basic " + base64.b64encode(f"{user.user_principal_name}:{secret}".encode()).decode()

    setup_client = Client()
    setup_client.force_login(user)
    # Proved far ahead, so no page asks for the password again during the run.
    proved = setup_client.session
    session_proof_mark(session=proved, at=timezone.now() + timedelta(days=1))
    proved.save()
    signing_in = Client()
    challenge_pending(signing_in, user, method.pk, timedelta(days=1))
    auth = {"HTTP_AUTHORIZATION": basic}
    pages = {
        "/mfa/setup/ GET": Page(
            setup_client,
            "/mfa/setup/",
            {},
            "/setup/",
            shows=(
                'value="(425) 555-0123"',
                "<dd>+1 425-555-0123</dd>",
                "<td>Authenticator app</td>",
                "<td>Use verification code</td>",
            ),
        ),
        "challenge page GET": Page(
            signing_in,
            "/signin/verify/",
            {},
            "/verify/",
            shows=('name="code"', 'autocomplete="one-time-code"'),
        ),
        "/legacy/auth, app password": Page(
            Client(REMOTE_ADDR="192.0.2.10"), "/legacy/auth", auth, "/legacy/auth", auth
        ),
    }
    return pages, {"secret": secret, "user_id": user.id}


def build(size: int, original: str, prefixes: tuple[str, ...], floor: Floor) -> Tenant:
    """A tenant of ``size`` users, its floor's table copied beside it, every page checked
    to show what the floor's does."""
    test = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        test["NAME"] = str(Path(settings.VAR_DIR) / f"bench-{size}.sqlite3")
    else:
        test["NAME"] = f"test_{original}_bench_{size}"
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    seed(size)
    tenant = Tenant(size, database)
    tenant.client.force_login(DirectoryUser.objects.by_upn("admin@contoso.test").get())
    both = variants(size, prefixes)
    tenant.urls = {name: urls[0] for name, urls in both.items()}
    tenant.pages, app_password = selfservice_pages()
    connection.close()  # the floor writes its table into this database
    floor.use(database)
    copied = floor.ask(cmd="copy")
    floor.ask(cmd="app_password", **app_password)
    tenant.floor_session = floor.ask(cmd="sign_in", pending=app_password["user_id"])["session"]
    print(f"  floor: copied {copied['users']:,} users", flush=True)
    tenant.floor_urls = {name: urls[1] for name, urls in both.items()}
    tenant.floor_timings = {name: [] for name in both}
    floor_rows = {name: floor.request(url, 2)["rows"] for name, url in tenant.floor_urls.items()}
    for name, page in tenant.pages.items():
        for _ in range(3):
            response = page.client.get(page.url, **page.headers)
            assert response.status_code == 200, (page.url, response.status_code)
        text = response.content.decode()
        lacking = [shown for shown in page.shows if shown not in text]
        assert not lacking, f"{name}: the portal does not show {lacking}"
        with CaptureQueriesContext(connection) as queries:
            page.client.get(page.url, **page.headers)
        tenant.queries[name] = len(queries.captured_queries)
        tenant.rows[name] = 0
        tenant.timings[name] = []
        tenant.floor_timings[name] = []
        lacking = floor.request(page.floor_url, 2, page.floor_headers, page.shows)["lacking"]
        assert not lacking, f"{name}: the floor does not show {lacking}"
    for name, url in tenant.urls.items():
        for _ in range(3):  # warm the caches, the session and the planner
            response = request(tenant.client, url)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            response = request(tenant.client, url)
        tenant.queries[name] = len(queries.captured_queries)
        # A row of the users tab has a checkbox; one of Active users a link to its pane.
        tenant.rows[name] = response.content.count(b'name="u" value=') + response.content.count(
            b"data-pane-link"
        )
        tenant.timings[name] = []
        if floor_rows[name] != tenant.rows[name]:
            raise RuntimeError(
                f"{name}: the floor shows {floor_rows[name]} rows, the portal {tenant.rows[name]}"
            )
    return tenant


# Rounds in a row on one tenant: its connections stay open for them (a server's do), and
# each variant is asked once untimed on each side when the visit begins.
VISIT_ROUNDS = 10


def measure(
    tenants: list[Tenant], repeat: int, floor: Floor, report: Report, batch: int = 1
) -> None:
    """Time every variant on every tenant in interleaved visits, so that load from other
    processes on the machine falls on all sizes alike and the ratios stay meaningful. On a
    tenant the floor serves too, each ``batch`` of the portal's requests is followed by as
    many of the floor's: with 1, they take turns request by request, and a moment's load on
    this shared machine (a p95 of 20 is its second-slowest request) falls on both alike.

    A visit to a tenant opens its database on both sides (the first request after switching
    opens the connection, the first of a variant fills the caches it reads), asks each
    variant once untimed on each side, then times up to ``VISIT_ROUNDS`` rounds: as many in
    all as ``repeat // batch``."""
    rounds = max(1, repeat // batch)
    visits = [min(VISIT_ROUNDS, rounds - start) for start in range(0, rounds, VISIT_ROUNDS)]
    for number, rounds_per_visit in enumerate(visits):
        for tenant in tenants:
            use(tenant.database)
            floor.use(tenant.database)
            for name, url in tenant.urls.items():
                request(tenant.client, url)
                floor.request(tenant.floor_urls[name], 1)
            for page in tenant.pages.values():
                page.client.get(page.url, **page.headers)
                floor.request(page.floor_url, 1, page.floor_headers)
            for _ in range(rounds_per_visit):
                for name, url in tenant.urls.items():
                    for _ in range(batch):
                        started = time.perf_counter()
                        request(tenant.client, url)
                        tenant.timings[name].append((time.perf_counter() - started) * 1000)
                    tenant.floor_timings[name] += floor.time(tenant.floor_urls[name], batch)
                for name, page in tenant.pages.items():
                    for _ in range(batch):
                        started = time.perf_counter()
                        page.client.get(page.url, **page.headers)
                        tenant.timings[name].append((time.perf_counter() - started) * 1000)
                    tenant.floor_timings[name] += floor.time(
                        page.floor_url, batch, page.floor_headers
                    )
        report.load.append(os.getloadavg()[0])
        print(f"  visit {number + 1}/{len(visits)}, load average {report.load[-1]:.2f}", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def seed(size: int) -> None:
    from mfaportal.demo.tenant import NAMED_ACCOUNTS, seed_tenant

    started = time.monotonic()
    seed_tenant(users=size - NAMED_ACCOUNTS, password="Bench-Passw0rd!")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  seeded {size:,} users in {time.monotonic() - started:.1f} s", flush=True)


BULK_ROUNDS = 5


def bulk_enable(tenant: Tenant, floor: Floor, rounds: int = BULK_ROUNDS) -> BulkMeasure:
    """Select all that match "Sign-in allowed users" → Enable, from every state Disabled,
    through the page's own request (the job runs in-process); then the states go back. In
    ``rounds`` alternating with the floor's Enable (one Enable each is at the mercy of a
    moment's load); the medians are reported."""
    use(tenant.database)
    before = list(UserMfa.objects.values_list("user_id", "state"))
    matching = DirectoryUser.objects.filter(account_enabled=True).count()
    portal: list[float] = []
    at_floor: list[float] = []
    for _ in range(rounds):
        seconds, count, audit_rows, enforced = _portal_enable(tenant, matching, before)
        portal.append(seconds)
        connection.close()
        floor.use(tenant.database)
        answer = floor.ask(cmd="enable")
        assert answer["users"] == matching, (answer, matching)
        # The same work: as many users changed (and audited) on both sides, and as many
        # of them, already registered, made Enforced.
        assert answer["changed"] == audit_rows, (answer, audit_rows)
        assert answer["enforced"] == enforced, (answer, enforced)
        at_floor.append(answer["seconds"])
        use(tenant.database)
    measured = BulkMeasure(tenant.size, matching, statistics.median(portal), count, audit_rows)
    measured.floor_seconds = statistics.median(at_floor)
    return measured


def _portal_enable(
    tenant: Tenant, matching: int, before: list[tuple[int, int]]
) -> tuple[float, int, int, int]:
    """One select-all Enable through the page, checked, then undone: its seconds, queries,
    audit rows and users made Enforced."""
    from mfaportal.admin_portal.models import BulkJob
    from mfaportal.core.models import AuditEvent

    UserMfa.objects.update(state=0)
    audit_before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = tenant.client.post(
            "/admin/users/steps/enable/", {"all": "1"}, HTTP_HX_REQUEST="true"
        )
        seconds = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    audit_rows = AuditEvent.objects.count() - audit_before
    job = BulkJob.objects.latest("created_at")
    assert job.status == BulkJob.Status.SUCCEEDED, job.status
    assert job.done == matching, (job.done, matching)
    assert job.failed == 0, job.failed
    # Every matching user answered for, and every change audited.
    assert job.changed + job.unchanged + job.skipped == matching, job
    assert job.changed == audit_rows, (job.changed, audit_rows)
    enforced = UserMfa.objects.filter(state=MfaState.ENFORCED).count()
    by_state: dict[int, list[int]] = {}
    for user_id, state in before:
        by_state.setdefault(state, []).append(user_id)
    for state, ids in by_state.items():
        for start in range(0, len(ids), 500):
            UserMfa.objects.filter(user_id__in=ids[start : start + 500]).update(state=state)
    return seconds, len(queries.captured_queries), audit_rows, enforced


def served(tenant: Tenant) -> dict[str, dict[str, float]]:
    """The first page under the shipped gunicorn config against the floor under gunicorn."""
    from bench.serve import gunicorn_compare

    use(tenant.database)
    info = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{tenant.database}"
    else:
        credentials = info["USER"] + (f":{info['PASSWORD']}" if info.get("PASSWORD") else "")
        url = f"postgres://{credentials}@{info['HOST']}:{info['PORT']}/{tenant.database}"
    floor_database = {key: info.get(key) for key in Floor.KEYS}
    floor_database["NAME"] = tenant.database
    floor_database["OPTIONS"] = floor_database["OPTIONS"] or {}
    connection.close()
    print("  gunicorn: the first page, portal and floor in alternating rounds", flush=True)
    return gunicorn_compare(
        database_url=url,
        floor_database=floor_database,
        session_key=tenant.client.cookies["sessionid"].value,
        floor_session_key=tenant.floor_session,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    quick = os.environ.get("BENCH_USERS")
    default_sizes = f"1000,{int(quick)}" if quick else ",".join(str(s) for s in SIZES)
    parser.add_argument("--sizes", default=default_sizes, help="or BENCH_USERS=N: 1k and N")
    parser.add_argument("--repeat", type=int, default=100, help="timed requests per variant")
    parser.add_argument(
        "--prefixes",
        default=",".join(PREFIXES),
        help='two-letter searches, comma-separated, or "all" (676, at the largest size only)',
    )
    parser.add_argument(
        "--no-gunicorn", action="store_true", help="skip the first page under gunicorn"
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        help="requests in a row before the other side's turn (1: portal and floor alternate "
        "request by request, so a moment's load falls on both)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not 1 <= args.batch <= args.repeat:
        parser.error("--batch must be between 1 and --repeat")
    sizes = sorted({int(size) for size in args.sizes.split(",")})
    every_prefix = args.prefixes == "all"
    letters = string.ascii_lowercase
    prefixes = (
        tuple(a + b for a in letters for b in letters)
        if every_prefix
        else tuple(p.strip() for p in args.prefixes.split(",") if p.strip())
    )

    vendor = connection.vendor
    original = str(connection.settings_dict["NAME"])
    print(f"bench on {vendor}, {args.repeat} requests per variant and size", flush=True)
    tenants: list[Tenant] = []
    report = Report(vendor=vendor, database=original, repeat=args.repeat, batch=args.batch)
    floor = Floor()
    bulk_size = BULK_SIZE if BULK_SIZE in sizes else sizes[-1]
    try:
        for size in sizes:
            # The floor serves every size: the portal's requests then take turns with its
            # at every size alike, and the 100k/1k ratio compares like with like.
            searched = prefixes if size == sizes[-1] or not every_prefix else PREFIXES[:2]
            tenants.append(build(size, Path(original).stem, searched, floor))
        measure(tenants, args.repeat, floor, report, args.batch)
        for tenant in tenants:
            for name, timings in tenant.timings.items():
                floor_timings = tenant.floor_timings.get(name) if tenant.size == sizes[-1] else None
                report.pages.append(
                    Measure(
                        name,
                        tenant.size,
                        round(statistics.median(timings), 2),
                        round(percentile(timings, 0.95), 2),
                        tenant.queries[name],
                        tenant.rows[name],
                        round(statistics.median(floor_timings), 2) if floor_timings else None,
                        round(percentile(floor_timings, 0.95), 2) if floor_timings else None,
                    )
                )
        if not args.no_gunicorn:
            report.gunicorn = served(tenants[-1])
        bulk_tenant = next(t for t in tenants if t.size == bulk_size)
        report.bulk.append(bulk_enable(bulk_tenant, floor))
        report.load.append(os.getloadavg()[0])
    finally:
        floor.close()
        for tenant in tenants:
            connection.close()
            connection.settings_dict["NAME"] = tenant.database
            connection.creation.destroy_test_db(original, verbosity=0)
    print()
    print(markdown(report, sizes))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0 if verdict(report, sizes) else 1


def floor_ratio(m: Measure) -> tuple[str, float, float] | None:
    """The figure issue 15 holds against the floor: p95 for a search, p50 for a page."""
    if m.floor_p50_ms is None or m.floor_p95_ms is None:
        return None
    if is_search(m.variant):
        return "p95", m.p95_ms / m.floor_p95_ms, FLOOR_TARGETS["search_p95"]
    if m.variant.startswith("/legacy/auth"):
        return "p50", m.p50_ms / m.floor_p50_ms, FLOOR_TARGETS["legacy_p50"]
    return "p50", m.p50_ms / m.floor_p50_ms, FLOOR_TARGETS["page_p50"]


def markdown(report: Report, sizes: list[int]) -> str:
    largest = sizes[-1]
    load = report.load or [0.0]
    lines = [
        f"Database: {report.vendor}. Load average (1 min) {min(load):.2f} to {max(load):.2f} "
        "during the run.",
        "",
        f"Against the floor, {largest:,} users, same rounds ({report.repeat} requests a variant, "
        f"{report.batch} in a row before the other side's turn): ms p50 / p95, ratio, target.",
        "",
        "| variant | portal | floor | ratio | target |",
        "|---|---|---|---|---|",
    ]
    at_largest = [m for m in report.pages if m.size == largest]
    for m in at_largest:
        ratio = floor_ratio(m)
        if ratio is None:
            continue
        which, value, target = ratio
        lines.append(
            f"| {m.variant} | {m.p50_ms:.1f} / {m.p95_ms:.1f} | "
            f"{m.floor_p50_ms:.1f} / {m.floor_p95_ms:.1f} | {value:.2f} ({which}) | "
            f"≤ {target} |"
        )
    for kind, typed in (("search", False), ("search as typed (htmx)", True)):
        searches = [
            (floor_ratio(m), m)
            for m in at_largest
            if is_search(m.variant) and m.variant.endswith(", as typed") is typed
        ]
        worst = max(
            ((ratio[1], m) for ratio, m in searches if ratio is not None),
            default=None,
            key=lambda pair: pair[0],
        )
        if worst is not None:
            lines.append("")
            lines.append(
                f"Worst {kind} against the floor: {worst[1].variant}, p95 ratio "
                f"{worst[0]:.2f} (of {len(searches)})."
            )
    if report.gunicorn:
        portal, floor = report.gunicorn["portal"], report.gunicorn["floor"]
        lines += [
            "",
            "First page under gunicorn (portal: gunicorn.conf.py as shipped; floor: 2 sync "
            f"workers): portal {portal['req_s']:.0f} req/s, p50 {portal['p50_ms']:.1f} ms, "
            f"p99 {portal['p99_ms']:.1f} ms; floor {floor['req_s']:.0f} req/s, p50 "
            f"{floor['p50_ms']:.1f} ms, p99 {floor['p99_ms']:.1f} ms; throughput ratio "
            f"{portal['req_s'] / floor['req_s']:.2f} (≥ {GUNICORN_TARGETS['throughput']}), "
            f"p99 ratio {portal['p99_ms'] / floor['p99_ms']:.2f} (≤ {GUNICORN_TARGETS['p99']}).",
        ]
    for bulk in report.bulk:
        lines.append("")
        floor_part = ""
        if bulk.floor_seconds:
            floor_part = (
                f"; floor {bulk.floor_seconds:.2f} s, ratio "
                f"{bulk.seconds / bulk.floor_seconds:.2f} (≤ {FLOOR_TARGETS['bulk']})"
            )
        lines.append(
            f"Select all that match ({bulk.users:,} users of {bulk.size:,}) → Enable, median of "
            f"{BULK_ROUNDS} rounds alternating with the floor: "
            f"{bulk.seconds:.2f} s including the job and {bulk.audit_rows:,} audit rows "
            f"({bulk.queries} queries){floor_part}."
        )
    lines += [
        "",
        "Portal by tenant size: server time per request in ms, p50 / p95, and SQL queries.",
        "",
        "| variant | " + " | ".join(f"{size:,} users" for size in sizes) + " | ratio |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    names = list(dict.fromkeys(measure.variant for measure in report.pages))
    for name in names:
        by_size = {m.size: m for m in report.pages if m.variant == name}
        cells = [
            f"{by_size[size].p50_ms:.1f} / {by_size[size].p95_ms:.1f} ({by_size[size].queries} q)"
            if size in by_size
            else "—"
            for size in sizes
        ]
        growth = (
            f"{by_size[sizes[-1]].p50_ms / by_size[sizes[0]].p50_ms:.2f}"
            if sizes[0] in by_size and sizes[-1] in by_size
            else "—"
        )
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {growth} |")
    return "\n".join(lines)


def verdict(report: Report, sizes: list[int]) -> bool:
    """Print each target and whether it holds; True when all do."""
    ok = True
    largest, smallest = sizes[-1], sizes[0]
    for name in dict.fromkeys(m.variant for m in report.pages):
        by_size = {m.size: m for m in report.pages if m.variant == name}
        if largest not in by_size:
            continue
        big = by_size[largest]
        checks = {
            "p50": big.p50_ms <= TARGETS["p50_ms"],
            "p95": big.p95_ms <= TARGETS["p95_ms"],
            "same queries": len({m.queries for m in by_size.values()}) == 1,
        }
        # A search for "ad" finds its page early in the list at every size, so it stays flat;
        # other prefixes' matches lie elsewhere in a bigger list: held against the floor.
        flat = not is_search(name) or name.endswith('search "ad"')
        if smallest in by_size and flat:
            checks["ratio"] = big.p50_ms / by_size[smallest].p50_ms <= TARGETS["ratio"]
        ratio = floor_ratio(big)
        if ratio is not None:
            checks[f"{ratio[0]} {ratio[1]:.2f}x the floor"] = ratio[1] <= ratio[2]
        failed = [check for check, passed in checks.items() if not passed]
        if failed:
            ok = False
            print(f"MISSED {name}: {', '.join(failed)}")
    for bulk in report.bulk:
        if bulk.seconds > TARGETS["bulk_s"]:
            ok = False
            print(f"MISSED bulk Enable: {bulk.seconds:.2f} s > {TARGETS['bulk_s']} s")
        if bulk.floor_seconds and bulk.seconds / bulk.floor_seconds > FLOOR_TARGETS["bulk"]:
            ok = False
            print(f"MISSED bulk Enable: {bulk.seconds / bulk.floor_seconds:.2f}x the floor")
    if report.gunicorn:
        portal, floor = report.gunicorn["portal"], report.gunicorn["floor"]
        if portal["req_s"] / floor["req_s"] < GUNICORN_TARGETS["throughput"]:
            ok = False
            print(f"MISSED gunicorn throughput: {portal['req_s'] / floor['req_s']:.2f}x the floor")
        if portal["p99_ms"] / floor["p99_ms"] > GUNICORN_TARGETS["p99"]:
            ok = False
            print(f"MISSED gunicorn p99: {portal['p99_ms'] / floor['p99_ms']:.2f}x the floor")
    print(
        "all targets met" if ok else "some targets missed",
        f"({settings.DATABASES['default']['ENGINE']})",
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
