"""``manage.py mfa``: what MSOnline PowerShell did for per-user MFA, through the same
services as the page.

- ``get-user UPN --json``, ``report --format csv``: reads;
- ``set-state --state S``, ``reset-methods``, ``revoke-sessions``, ``delete-app-passwords``:
  writes, each for ``UPN...``, ``--csv FILE`` or ``--all`` (with ``--view``, ``--status``,
  ``--search``, the users page's filters).

Where the directory of record is Microsoft Entra ID (graph mode), a write sends its changes
to Graph in this process and waits, with a progress bar, until Graph has accepted or refused
each (``Set-MsolUser`` returned when the directory had the change); it prints each user's
outcome and exits non-zero if Graph refused any or some are still waiting. ``--no-wait``
only queues them for the task worker.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.core.progress import ProgressBar
from mfaportal.directory.interface import APP_PASSWORDS, get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.bulk_csv import bulk_file_parse, users_file_parse
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.reports import report_csv_lines
from mfaportal.mfa.selectors import user_summary
from mfaportal.mfa.selectors.users import UserFilter, users_matching
from mfaportal.mfa.services import (
    app_passwords_delete_all,
    mfa_reregistration_require,
    mfa_state_set,
    sessions_revoke,
)

Service = Callable[..., Outcome]
Parsed = TypeVar("Parsed")
# The writes that need no value per user: the subcommand, its service, what it does, and
# what the directory may keep no part in (``Directory.portal_only``).
USER_WRITES: dict[str, tuple[Service, str, str]] = {
    "reset-methods": (
        mfa_reregistration_require,
        "Require users to provide contact methods again (Reset-MsolStrongAuthenticationMethod"
        "ByUpn): their phone, app and OATH methods are deleted.",
        "",
    ),
    "revoke-sessions": (sessions_revoke, "Sign users out of every session.", ""),
    "delete-app-passwords": (
        app_passwords_delete_all,
        "Delete all of users' app passwords.",
        APP_PASSWORDS,
    ),
}


class Command(BaseCommand):
    help = "Read and change per-user multi-factor authentication from the command line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)

        get_user = sub.add_parser("get-user", help="Show one user's MFA state and methods.")
        get_user.add_argument("upn")
        get_user.add_argument("--json", action="store_true", help="Print JSON (the default).")

        set_state = sub.add_parser("set-state", help="Enable, enforce or disable MFA.")
        set_state.add_argument(
            "--state", required=True, help="Enabled, Enforced or Disabled (any case)."
        )
        self._targets(set_state, csv_help="A bulk update file: Username,MFA Status.")
        for name, (_service, what, _kept) in USER_WRITES.items():
            self._targets(
                sub.add_parser(name, help=what),
                csv_help="A file with a Username column (a bulk update file will do).",
            )

        report = sub.add_parser("report", help="Print the MFA status report.")
        report.add_argument("--format", choices=["csv"], default="csv")
        report.add_argument("--view", default="allowed")
        report.add_argument("--status", default="any")
        report.add_argument("--search", default="")

    @staticmethod
    def _targets(parser: CommandParser, *, csv_help: str) -> None:
        targets = parser.add_mutually_exclusive_group(required=True)
        targets.add_argument("upns", nargs="*", default=[], metavar="UPN")
        targets.add_argument("--csv", type=Path, help=csv_help)
        targets.add_argument("--all", action="store_true", help="Every user matching the filters.")
        parser.add_argument("--view", default="allowed", help="allowed, blocked or role:<id>.")
        parser.add_argument("--status", default="any", help="any, enabled, enforced, disabled.")
        parser.add_argument("--search", default="", help="Prefix of name, user name or mail.")
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="In graph mode, only queue the changes for Microsoft Graph (the task worker "
            "sends them) instead of sending them and waiting for Graph's answers.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        subcommand = options["subcommand"]
        if subcommand in USER_WRITES:
            service, _what, kept = USER_WRITES[subcommand]
            self.handle_user_write(service, options, portal_only=kept)
            return
        getattr(self, "handle_" + subcommand.replace("-", "_"))(options)

    def handle_get_user(self, options: dict[str, Any]) -> None:
        user = DirectoryUser.objects.by_upn(options["upn"]).first()
        if user is None:
            raise CommandError(f"No user {options['upn']!r} in this directory.")
        self.stdout.write(json.dumps(user_summary(user), indent=2, ensure_ascii=False))

    # --- writes ------------------------------------------------------------------------------

    def _users(self, options: dict[str, Any]) -> QuerySet[DirectoryUser]:
        """The users named on the command line, or every user matching the filters."""
        if options["all"]:
            return users_matching(
                UserFilter.from_params(options["view"], options["status"], options["search"])
            )
        known = {}
        for upn in options["upns"]:
            user = DirectoryUser.objects.by_upn(upn).first()
            if user is None:
                raise CommandError(f"No user {upn!r} in this directory; nothing was changed.")
            known[user.pk] = user
        return DirectoryUser.objects.filter(pk__in=known)

    @staticmethod
    def _parse(path: Path, parse: Callable[[IO[bytes]], Parsed]) -> Parsed:
        """The file read by ``parse`` a line at a time (its size is checked before reading)."""
        try:
            with path.open("rb") as file:
                return parse(file)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error

    def handle_set_state(self, options: dict[str, Any]) -> None:
        started = timezone.now()
        if options["csv"] is not None:
            parsed = self._parse(options["csv"], bulk_file_parse)
            if not parsed.ok:
                raise CommandError(parsed.fatal)
            for bad in parsed.errors:
                self.stderr.write(f"line {bad.line}: {bad.username}: {bad.reason}")
            by_state: dict[MfaState, list[int]] = defaultdict(list)
            for row in parsed.rows:
                by_state[row.state].append(row.user_id)
            outcome = Outcome()
            context = ChangeContext(actor=None, source=AuditSource.CSV)
            for state, ids in by_state.items():
                outcome.merge(
                    mfa_state_set(
                        users=DirectoryUser.objects.filter(pk__in=ids), state=state, context=context
                    )
                )
            self._finish(outcome, started, options)
            if parsed.errors:
                raise CommandError(f"{len(parsed.errors)} line(s) of the file were not applied.")
            return
        try:
            state = MfaState.parse(options["state"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        outcome = mfa_state_set(
            users=self._users(options),
            state=state,
            context=ChangeContext(actor=None, source=AuditSource.CLI),
        )
        self._finish(outcome, started, options)

    def handle_user_write(
        self, service: Service, options: dict[str, Any], *, portal_only: str = ""
    ) -> None:
        started = timezone.now()
        bad_lines = 0
        if options["csv"] is not None:
            parsed = self._parse(options["csv"], users_file_parse)
            if not parsed.ok:
                raise CommandError(parsed.fatal)
            for bad in parsed.errors:
                self.stderr.write(f"line {bad.line}: {bad.username}: {bad.reason}")
            bad_lines = len(parsed.errors)
            users = DirectoryUser.objects.filter(pk__in=[row.user_id for row in parsed.rows])
            source = AuditSource.CSV
        else:
            users = self._users(options)
            source = AuditSource.CLI
        outcome = service(users=users, context=ChangeContext(actor=None, source=source))
        note = get_directory().portal_only.get(portal_only) if portal_only else None
        if note and outcome.changed:
            self.stdout.write(str(note))
        self._finish(outcome, started, options)
        if bad_lines:
            raise CommandError(f"{bad_lines} line(s) of the file were not applied.")

    def _finish(self, outcome: Outcome, started: Any, options: dict[str, Any]) -> None:
        """Say what was done; in graph mode, send the changes and wait for Graph's answers."""
        for item in outcome.skipped:
            self.stderr.write(f"skipped {item.user_principal_name}: {item.reason}")
        summary = (
            f"{len(outcome.changed)} changed, {len(outcome.unchanged)} already so, "
            f"{len(outcome.skipped)} skipped."
        )
        directory = get_directory()
        if not directory.sends_changes or not outcome.changed:
            self.stdout.write(summary)
            return
        ids = dict(
            DirectoryUser.objects.filter(
                user_principal_name__in=[item.user_principal_name for item in outcome.changed]
            ).values_list("pk", "user_principal_name")
        )
        bar = None if options["no_progress"] else ProgressBar(self.stderr)
        settlement = directory.changes_settle(
            user_ids=list(ids),
            since=started,
            wait=not options["no_wait"],
            progress=(lambda done, total: bar("Microsoft Graph", done, total)) if bar else None,
        )
        if bar is not None:
            bar.finish()
        if options["no_wait"]:
            self.stdout.write(summary)
            self.stdout.write(
                f"{len(settlement.waiting)} change(s) queued for Microsoft Graph, not sent yet: "
                "the task worker (or manage.py outbox_drain) sends them."
            )
            return
        sent = settlement.accepted | set(settlement.refused) | settlement.waiting
        for pk, upn in sorted(ids.items(), key=lambda item: item[1].lower()):
            if pk in settlement.refused:
                self.stdout.write(f"{upn}: refused by Microsoft Graph: {settlement.refused[pk]}")
            elif pk in settlement.waiting:
                self.stdout.write(f"{upn}: not answered by Microsoft Graph yet (still queued)")
            elif pk in settlement.accepted:
                self.stdout.write(f"{upn}: accepted by Microsoft Graph")
            else:
                self.stdout.write(f"{upn}: done in this portal only (nothing for Microsoft Graph)")
        if not sent:
            self.stdout.write(summary)
            return
        self.stdout.write(
            f"{summary} Microsoft Graph accepted {len(settlement.accepted)}, refused "
            f"{len(settlement.refused)}, has not answered {len(settlement.waiting)}."
        )
        if settlement.refused or settlement.waiting:
            raise CommandError(
                f"Microsoft Graph refused {len(settlement.refused)} change(s) and has not "
                f"answered {len(settlement.waiting)}: see above. The portal shows the users "
                "as they are in Microsoft Entra ID."
            )

    def handle_report(self, options: dict[str, Any]) -> None:
        users = users_matching(
            UserFilter.from_params(options["view"], options["status"], options["search"])
        )
        for line in report_csv_lines(users):
            self.stdout.write(line, ending="")
