"""Time the admin users page and a select-all bulk step on growing tenants.

    python -m bench                       # SQLite file in var/, sizes 1k, 10k, 100k
    DATABASE_URL=postgres://... python -m bench
    python -m bench --sizes 1000,10000 --repeat 30

A throwaway database is created beside the configured one (``test_<name>``, or
var/bench.sqlite3) and dropped at the end; the configured database is never touched. Each
size is seeded with the demo tenant (``seed_demo``'s generator, so 1k is the first 1k of 10k),
then each page variant is requested through Django's test client as a signed-in global
administrator: full request and response, middleware, session, auth, template. The figures
are the server-side time per request and the number of SQL queries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models.functions import Upper  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from mfaportal.directory.models import DirectoryUser  # noqa: E402
from mfaportal.mfa.models import UserMfa  # noqa: E402
from mfaportal.mfa.selectors.users import Cursor  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
BULK_SIZE = 10_000
TARGETS = {"p50_ms": 50.0, "p95_ms": 100.0, "ratio": 1.5, "bulk_s": 5.0}


@dataclass
class Measure:
    variant: str
    size: int
    p50_ms: float
    p95_ms: float
    queries: int
    rows: int


@dataclass
class BulkMeasure:
    size: int
    users: int
    seconds: float
    queries: int
    audit_rows: int


@dataclass
class Report:
    vendor: str
    database: str
    repeat: int
    pages: list[Measure] = field(default_factory=list)
    bulk: list[BulkMeasure] = field(default_factory=list)


def deep_page_url(size: int) -> str:
    """The page that starts halfway down the default order (page size 50)."""
    middle = (
        DirectoryUser.objects.filter(account_enabled=True)
        .annotate(key=Upper("display_name"))
        .order_by("key", "id")
        .values_list("key", "id")[size // 2 : size // 2 + 1]
    )
    key, user_id = middle[0]
    return f"/admin/users/?after={Cursor(key, user_id).encode()}&page={size // 100}"


def variants(size: int) -> dict[str, str]:
    return {
        "first page": "/admin/users/",
        "status=Enforced": "/admin/users/?status=enforced",
        'search "ad"': "/admin/users/?q=ad",
        'search "ma"': "/admin/users/?q=ma",
        "deep page": deep_page_url(size),
        "sorted by user name": "/admin/users/?sort=user_principal_name",
        "htmx fragment, first page": "/admin/users/#fragment",
        # Active users (seed 000's way in) pages through the same selector.
        "Active users, first page": "/admin/active-users/",
        'Active users, search "ad"': "/admin/active-users/?q=ad",
    }


@dataclass
class Tenant:
    """One seeded database of a given size, and its signed-in admin's client."""

    size: int
    database: str
    client: Client = field(default_factory=Client)
    urls: dict[str, str] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)


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


def build(size: int, original: str) -> Tenant:
    test = connection.settings_dict.setdefault("TEST", {})
    if connection.vendor == "sqlite":
        test["NAME"] = str(Path(settings.VAR_DIR) / f"bench-{size}.sqlite3")
    else:
        test["NAME"] = f"test_{original}_bench_{size}"
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    seed(size)
    tenant = Tenant(size, database)
    tenant.client.force_login(DirectoryUser.objects.by_upn("admin@contoso.test").get())
    tenant.urls = variants(size)
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
    return tenant


def measure(tenants: list[Tenant], repeat: int, batch: int = 10) -> None:
    """Time every variant on every tenant in interleaved rounds, so that load from other
    processes on the machine falls on all sizes alike and the ratios stay meaningful."""
    rounds = max(1, repeat // batch)
    for number in range(rounds):
        for tenant in tenants:
            use(tenant.database)
            for name, url in tenant.urls.items():
                request(tenant.client, url)  # the first after switching opens the connection
                for _ in range(batch):
                    started = time.perf_counter()
                    request(tenant.client, url)
                    tenant.timings[name].append((time.perf_counter() - started) * 1000)
        print(f"  round {number + 1}/{rounds}", flush=True)


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


def bulk_enable(tenant: Tenant) -> BulkMeasure:
    """Select all that match "Sign-in allowed users" → Enable, from every state Disabled,
    through the page's own request (the job runs in-process); then the states go back."""
    from mfaportal.admin_portal.models import BulkJob
    from mfaportal.core.models import AuditEvent

    use(tenant.database)
    before = list(UserMfa.objects.values_list("user_id", "state"))
    UserMfa.objects.update(state=0)
    audit_before = AuditEvent.objects.count()
    matching = DirectoryUser.objects.filter(account_enabled=True).count()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = tenant.client.post(
            "/admin/users/steps/enable/", {"all": "1"}, HTTP_HX_REQUEST="true"
        )
        seconds = time.perf_counter() - started
    count = len(queries.captured_queries)
    assert response.status_code == 200, response.status_code
    audit_rows = AuditEvent.objects.count() - audit_before
    job = BulkJob.objects.latest("created_at")
    assert job.status == BulkJob.Status.SUCCEEDED, job.status
    assert job.done == matching, (job.done, matching)
    assert job.failed == 0, job.failed
    by_state: dict[int, list[int]] = {}
    for user_id, state in before:
        by_state.setdefault(state, []).append(user_id)
    for state, ids in by_state.items():
        for start in range(0, len(ids), 500):
            UserMfa.objects.filter(user_id__in=ids[start : start + 500]).update(state=state)
    return BulkMeasure(tenant.size, matching, seconds, count, audit_rows)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--repeat", type=int, default=100, help="timed requests per variant")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    vendor = connection.vendor
    original = str(connection.settings_dict["NAME"])
    print(f"bench on {vendor}, {args.repeat} requests per variant and size", flush=True)
    tenants: list[Tenant] = []
    report = Report(vendor=vendor, database=original, repeat=args.repeat)
    try:
        for size in sizes:
            tenants.append(build(size, Path(original).stem))
        measure(tenants, args.repeat)
        for tenant in tenants:
            for name, timings in tenant.timings.items():
                report.pages.append(
                    Measure(
                        name,
                        tenant.size,
                        round(statistics.median(timings), 2),
                        round(percentile(timings, 0.95), 2),
                        tenant.queries[name],
                        tenant.rows[name],
                    )
                )
        bulk_tenant = next((t for t in tenants if t.size == BULK_SIZE), tenants[-1])
        report.bulk.append(bulk_enable(bulk_tenant))
    finally:
        for tenant in tenants:
            connection.close()
            connection.settings_dict["NAME"] = tenant.database
            connection.creation.destroy_test_db(original, verbosity=0)
    print()
    print(markdown(report, sizes))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    return 0 if verdict(report, sizes) else 1


def markdown(report: Report, sizes: list[int]) -> str:
    lines = [
        f"Database: {report.vendor}. Server time per request in ms, p50 / p95, and SQL queries.",
        "",
        "| variant | " + " | ".join(f"{size:,} users" for size in sizes) + " | ratio |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    names = list(dict.fromkeys(measure.variant for measure in report.pages))
    for name in names:
        cells = []
        by_size = {m.size: m for m in report.pages if m.variant == name}
        for size in sizes:
            m = by_size[size]
            cells.append(f"{m.p50_ms:.1f} / {m.p95_ms:.1f} ({m.queries} q)")
        ratio = by_size[sizes[-1]].p50_ms / by_size[sizes[0]].p50_ms
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    for bulk in report.bulk:
        lines.append("")
        lines.append(
            f"Select all that match ({bulk.users:,} users of {bulk.size:,}) → Enable: "
            f"{bulk.seconds:.2f} s including the job and {bulk.audit_rows:,} audit rows "
            f"({bulk.queries} queries)."
        )
    return "\n".join(lines)


def verdict(report: Report, sizes: list[int]) -> bool:
    """Print each target and whether it holds; True when all do."""
    ok = True
    largest, smallest = sizes[-1], sizes[0]
    for name in dict.fromkeys(m.variant for m in report.pages):
        by_size = {m.size: m for m in report.pages if m.variant == name}
        big, small = by_size[largest], by_size[smallest]
        checks = {
            "p50": big.p50_ms <= TARGETS["p50_ms"],
            "p95": big.p95_ms <= TARGETS["p95_ms"],
            "ratio": big.p50_ms / small.p50_ms <= TARGETS["ratio"],
            "same queries": len({m.queries for m in by_size.values()}) == 1,
        }
        failed = [check for check, passed in checks.items() if not passed]
        if failed:
            ok = False
            print(f"MISSED {name}: {', '.join(failed)}")
    for bulk in report.bulk:
        if bulk.seconds > TARGETS["bulk_s"]:
            ok = False
            print(f"MISSED bulk Enable: {bulk.seconds:.2f} s > {TARGETS['bulk_s']} s")
    print(
        "all targets met" if ok else "some targets missed",
        f"({settings.DATABASES['default']['ENGINE']})",
    )
    return ok


if __name__ == "__main__":
    sys.exit(main())
