"""``manage.py outbox_drain [--loop SECONDS]``: send the changes waiting for Graph."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from mfaportal.core.modes import graph_mode
from mfaportal.entra.outbox import DeliveryReport, outbox_deliver


class Command(BaseCommand):
    # No system checks: they import every URLconf and view, and with them data this command
    # never uses (phone number geodata alone is ~100 MB of the process's memory).
    requires_system_checks: list[str] = []
    help = (
        "Send every due change of the Graph outbox (graph mode). The task worker does this "
        "on its own; run this from cron (or with --loop) as a safety net, e.g. after a crash "
        "between an admin action and its task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop",
            type=float,
            metavar="SECONDS",
            help="keep draining, pausing this long between rounds (Ctrl-C stops)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_mode():
            raise CommandError("outbox_drain sends changes to Microsoft Graph: graph mode only.")
        pause = options["loop"]
        while True:
            self.report(outbox_deliver())
            if not pause:
                return
            try:
                time.sleep(pause)
            except KeyboardInterrupt:
                return

    def report(self, report: DeliveryReport) -> None:
        line = (
            f"{report.sent:,} changes sent: {report.done:,} accepted, "
            f"{report.failed:,} refused by Graph, {report.retrying:,} to retry"
        )
        if report.next_attempt_at is not None:
            wait = max(0, int((report.next_attempt_at - timezone.now()).total_seconds()))
            line += f"; next retry due in {wait} s"
        self.stdout.write(line + ".")
