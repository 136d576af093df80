"""Python calls per request, the portal's beside the floor's: a count no load can move.

    python -m bench.calls                          # 10,000 users, the named searches
    python -m bench.calls --users 1000 --prefixes zo,an

On a shared machine a timed run wanders by half from one run to the next, so a change worth
10% needs several full runs of ``make bench`` to show. The number of Python function calls a
request makes (C functions included, as ``sys.setprofile`` counts them) is the same on every
run of the same code. It is not time: a call into SQLite or into the C escaping costs more
than a dictionary look-up, and neither side's SQL is counted. But work removed shows in it at
once and exactly. Issue 15's seventh round was found and checked this way. Both sides answer
the same requests on the same rows as in ``make bench``, which stays the measure of the
targets.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from bench.__main__ import PREFIXES, Floor, build, request  # noqa: E402
from bench.floor.worker import calls_per_request  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calls", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--prefixes", default=",".join(PREFIXES))
    parser.add_argument("--repeat", type=int, default=5, help="counted requests per variant")
    args = parser.parse_args()
    prefixes = tuple(p.strip() for p in args.prefixes.split(",") if p.strip())
    original = str(connection.settings_dict["NAME"])
    floor = Floor()
    lines = ["| variant | portal calls | floor calls | ratio |", "|---|---|---|---|"]
    try:
        tenant = build(args.users, os.path.basename(original).split(".")[0], prefixes, floor)
        counted: list[tuple[str, float, float]] = []
        for name, url in tenant.urls.items():
            portal = calls_per_request(lambda url=url: request(tenant.client, url), args.repeat)
            floor_url = tenant.floor_urls[name]
            answer = floor.ask(
                cmd="calls",
                url=floor_url.removesuffix("#fragment"),
                n=args.repeat,
                htmx=floor_url.endswith("#fragment"),
            )
            counted.append((name, portal, answer["calls"]))
        for name, page in tenant.pages.items():
            portal = calls_per_request(
                lambda page=page: page.client.get(page.url, **page.headers), args.repeat
            )
            answer = floor.ask(
                cmd="calls", url=page.floor_url, n=args.repeat, headers=page.floor_headers
            )
            counted.append((name, portal, answer["calls"]))
        for name, portal, floor_calls in counted:
            lines.append(
                f"| {name} | {portal:,.0f} | {floor_calls:,.0f} | {portal / floor_calls:.2f} |"
            )
    finally:
        floor.close()
        connection.close()
        connection.creation.destroy_test_db(original, verbosity=0)
    print(f"Python calls per request, {args.users:,} users, {connection.vendor}:\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
