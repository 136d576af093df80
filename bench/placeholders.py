"""What the portal's SQLite backend saves: pages with Django's placeholder conversion and
with the portal's, alternating in one process.

    python -m bench.placeholders                 # 10,000 users, 30 rounds
    python -m bench.placeholders --users 1000 --rounds 5

Django's SQLite cursor turns each statement's ``%s`` into ``?`` with a regular expression on
every execution; ``mfaportal.core.sqlite`` keeps the converted text of each statement
(issue 15). The two are swapped on the portal's cursor class between batches of the same
requests, so load on the machine falls on both alike; the medians and their difference are
printed. On PostgreSQL there is nothing to compare: psycopg takes ``%s`` as it is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangosCursor  # noqa: E402
from django.test import Client  # noqa: E402

from bench.__main__ import request, seed, selfservice_pages  # noqa: E402
from mfaportal.core.sqlite import base as portal_sqlite  # noqa: E402
from mfaportal.directory.models import DirectoryUser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.placeholders", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=15, help="requests per page and round")
    args = parser.parse_args()
    if connection.vendor != "sqlite":
        print(f"Nothing to compare on {connection.vendor}: only SQLite converts placeholders.")
        return 0
    original = str(connection.settings_dict["NAME"])
    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = str(Path(settings.VAR_DIR) / f"bench-placeholders-{args.users}.sqlite3")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        seed(args.users)
        admin = Client()
        admin.force_login(DirectoryUser.objects.by_upn("admin@contoso.test").get())
        pages, _ = selfservice_pages()
        legacy = pages["/legacy/auth, app password"]
        calls: dict[str, Callable[[], object]] = {
            "first page": lambda: request(admin, "/admin/users/"),
            'search "zo"': lambda: request(admin, "/admin/users/?q=zo"),
            'search "qx" (nobody)': lambda: request(admin, "/admin/users/?q=qx"),
            "/legacy/auth, app password": lambda: legacy.client.get(legacy.url, **legacy.headers),
        }
        kept = portal_sqlite.SQLiteCursorWrapper.convert_query
        # The stubs don't declare Django's convert_query.
        ways = {"Django's": DjangosCursor.convert_query, "kept": kept}  # type: ignore[attr-defined]
        timings: dict[tuple[str, str], list[float]] = {(p, w): [] for p in calls for w in ways}
        try:
            for _ in range(args.rounds):
                for way, convert in ways.items():
                    portal_sqlite.SQLiteCursorWrapper.convert_query = convert  # type: ignore[method-assign]
                    for name, call in calls.items():
                        call()  # the first after the swap is not timed
                        for _ in range(args.batch):
                            started = time.perf_counter()
                            call()
                            timings[(name, way)].append((time.perf_counter() - started) * 1000)
        finally:
            portal_sqlite.SQLiteCursorWrapper.convert_query = kept  # type: ignore[method-assign]
    finally:
        connection.close()
        connection.creation.destroy_test_db(original, verbosity=0)
    print(f"Placeholders converted by Django or kept, {args.users:,} users, ms p50:\n")
    print("| page | Django's | kept | saved |")
    print("|---|---|---|---|")
    for name in calls:
        before = statistics.median(timings[(name, "Django's")])
        after = statistics.median(timings[(name, "kept")])
        saved = before - after
        print(f"| {name} | {before:.2f} | {after:.2f} | {saved:.2f} ({saved / before:.1%}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
