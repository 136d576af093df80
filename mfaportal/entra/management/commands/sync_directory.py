"""``manage.py sync_directory [--full]``: sync the cache from Microsoft Graph now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mfaportal.core.modes import graph_mode
from mfaportal.core.progress import ProgressBar
from mfaportal.entra.sync import STAGE_LABELS, SyncBusy, SyncFailed, directory_sync


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
            bar = ProgressBar(self.stderr, label=lambda stage: str(STAGE_LABELS.get(stage, stage)))
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
