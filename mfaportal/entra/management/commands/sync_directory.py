"""``manage.py sync_directory [--full]``: sync the cache from Microsoft Graph now."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from mfaportal.core.modes import graph_mode
from mfaportal.entra.sync import STAGE_LABELS, SyncBusy, SyncFailed, directory_sync

BAR_WIDTH = 30


def _plain(text: str) -> str:
    # stderr is styled as errors on a terminal; progress is not an error.
    return text


class ProgressBar:
    """One line per stage: redrawn in place on a terminal, a line every few seconds in a log."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.interactive = out.isatty()
        self.stage = ""
        self.last_draw = 0.0
        self.line = ""  # what the current stage looks like now
        self.drawn = ""  # what was last written

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.finish()
            self.stage = stage
            self.last_draw = 0.0
        self.line = self.render(stage, done, total)
        interval = 0.1 if self.interactive else 5.0
        finished = total is not None and done >= total
        if now - self.last_draw >= interval or (finished and self.interactive):
            self.last_draw = now
            self.draw()

    def draw(self) -> None:
        if self.line == self.drawn:
            return
        self.drawn = self.line
        if self.interactive:
            self.out.write("\r" + self.line.ljust(78), style_func=_plain, ending="")
        else:
            self.out.write(self.line, style_func=_plain)
        self.out.flush()

    @staticmethod
    def render(stage: str, done: int, total: int | None) -> str:
        label = STAGE_LABELS.get(stage, stage)
        if not total:
            return f"{label:<12} {done:>9,}"
        share = min(1.0, done / total)
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"{label:<12} [{bar}] {share:4.0%}  {done:,} / {total:,}"

    def finish(self) -> None:
        """End the stage's line, showing where the stage ended."""
        if not self.line:
            return
        self.draw()
        if self.interactive:
            self.out.write("", style_func=_plain)
        self.line = self.drawn = ""


class Command(BaseCommand):
    # No system checks: they import every URLconf and view, and with them data this command
    # never uses (phone number geodata alone is ~100 MB of the process's memory).
    requires_system_checks: list[str] = []
    help = (
        "Sync users, admin roles, per-user MFA state and methods from Microsoft Graph "
        "(graph mode). Delta by default once a full sync has run; --full reads everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full", action="store_true", help="read every user, not only what changed"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_mode():
            raise CommandError(
                "sync_directory reads Microsoft Graph: set MFAPORTAL_DIRECTORY=graph and the "
                "MFAPORTAL_TENANT_ID, MFAPORTAL_CLIENT_ID and MFAPORTAL_CLIENT_SECRET of the "
                "app registration (docs/entra-setup.md)."
            )
        progress = None
        bar = None
        if not options["no_progress"]:
            bar = ProgressBar(self.stderr)
            progress = bar
        try:
            result = directory_sync(full=options["full"], progress=progress, requested_by="CLI")
        except SyncBusy as busy:
            raise CommandError(
                "A directory sync is already running (the admin page shows its progress)."
            ) from busy
        except SyncFailed as failed:
            if bar is not None:
                bar.finish()
            raise CommandError(f"Sync failed: {failed}") from failed
        if bar is not None:
            bar.finish()
        self.stdout.write(result.summary())
        for warning in result.warnings():
            self.stdout.write(f"  warning: {warning}")
