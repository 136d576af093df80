"""Run the emulator by hand: ``python -m tests.graph_emulator --users 100000 --port 8443``."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
import time

from .server import GraphEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.graph_emulator",
        description="Microsoft Graph + identity platform emulator on loopback HTTPS.",
    )
    parser.add_argument("--users", type=int, default=1000, help="tenant size (default 1000)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--domain", default="contoso.test")
    parser.add_argument("--client-id", help="application id (default: random)")
    parser.add_argument("--client-secret", help="client secret (default: random)")
    parser.add_argument("--state-dir", help="where to write the CA file (default: a temp dir)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--page-size", type=int, default=100, help="/users page without $top")
    parser.add_argument(
        "--seed", help="fixes tenant and user ids across restarts (default: new ids each run)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not print each request")
    args = parser.parse_args(argv)

    started = time.monotonic()
    emulator = GraphEmulator(
        users=args.users,
        domain=args.domain,
        client_id=args.client_id,
        client_secret=args.client_secret,
        host=args.host,
        port=args.port,
        latency=args.latency,
        page_size=args.page_size,
        state_dir=args.state_dir,
        seed=args.seed,
    ).start()
    admin = emulator.tenant.user_at(0)
    print(f"Graph emulator up in {time.monotonic() - started:.2f} s with {args.users} users")
    print(f"  authority host : {emulator.authority_host}")
    print(f"  authority      : {emulator.authority}")
    print(f"  token endpoint : {emulator.token_endpoint}")
    print(f"  Graph base URL : {emulator.graph_url}/v1.0  and  {emulator.graph_url}/beta")
    print(f"  tenant id      : {emulator.tenant_id}")
    print(f"  client id      : {emulator.client_id}")
    print(f"  client secret  : {emulator.client_secret}")
    print(f"  CA file        : {emulator.ca_pem_path}")
    print(f"  Global admin   : {admin.user_principal_name} ({admin.id})")
    print("Point the portal at it with:")
    for name, value in emulator.environment().items():
        print(f"  export {name}={shlex.quote(value)}")
    print("Ctrl-C stops it.", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    printed = 0
    try:
        while not stop.wait(0.5):
            if args.quiet:
                continue
            entries = emulator.log.all()
            for entry in entries[printed:]:
                marker = " (fault)" if entry.fault else ""
                item = " [batch item]" if entry.batch_item else ""
                print(f"{entry.method} {entry.path} -> {entry.status}{item}{marker}", flush=True)
            printed = len(entries)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
