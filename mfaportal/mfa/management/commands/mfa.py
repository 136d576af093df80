"""``manage.py mfa``: get-user, set-state and report, through the same services as the page."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.bulk_csv import bulk_file_parse
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.reports import report_csv_lines
from mfaportal.mfa.selectors import user_summary
from mfaportal.mfa.selectors.users import UserFilter, users_matching
from mfaportal.mfa.services import mfa_state_set


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
        targets = set_state.add_mutually_exclusive_group(required=True)
        targets.add_argument("upns", nargs="*", default=[], metavar="UPN")
        targets.add_argument("--csv", type=Path, help="A bulk update file: Username,MFA Status.")
        targets.add_argument("--all", action="store_true", help="Every user matching the filters.")
        set_state.add_argument("--view", default="allowed", help="allowed, blocked or role:<id>.")
        set_state.add_argument("--status", default="any", help="any, enabled, enforced, disabled.")
        set_state.add_argument("--search", default="", help="Prefix of name, user name or mail.")

        report = sub.add_parser("report", help="Print the MFA status report.")
        report.add_argument("--format", choices=["csv"], default="csv")
        report.add_argument("--view", default="allowed")
        report.add_argument("--status", default="any")
        report.add_argument("--search", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "handle_" + options["subcommand"].replace("-", "_"))(options)

    def handle_get_user(self, options: dict[str, Any]) -> None:
        user = DirectoryUser.objects.by_upn(options["upn"]).first()
        if user is None:
            raise CommandError(f"No user {options['upn']!r} in this directory.")
        self.stdout.write(json.dumps(user_summary(user), indent=2, ensure_ascii=False))

    def handle_set_state(self, options: dict[str, Any]) -> None:
        context = ChangeContext(actor=None, source=AuditSource.CLI)
        if options["csv"] is not None:
            self._set_state_from_csv(options["csv"], context)
            return
        try:
            state = MfaState.parse(options["state"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        if options["all"]:
            users = users_matching(
                UserFilter.from_params(options["view"], options["status"], options["search"])
            )
        else:
            known = {}
            for upn in options["upns"]:
                user = DirectoryUser.objects.by_upn(upn).first()
                if user is None:
                    raise CommandError(f"No user {upn!r} in this directory; nothing was changed.")
                known[user.pk] = user
            users = DirectoryUser.objects.filter(pk__in=known)
        self._report(mfa_state_set(users=users, state=state, context=context))

    def _set_state_from_csv(self, path: Path, context: ChangeContext) -> None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from error
        parsed = bulk_file_parse(data)
        if not parsed.ok:
            raise CommandError(parsed.fatal)
        for bad in parsed.errors:
            self.stderr.write(f"line {bad.line}: {bad.username}: {bad.reason}")
        by_state: dict[MfaState, list[int]] = defaultdict(list)
        for row in parsed.rows:
            by_state[row.state].append(row.user_id)
        outcome = Outcome()
        csv_context = ChangeContext(actor=context.actor, source=AuditSource.CSV)
        for state, ids in by_state.items():
            outcome.merge(
                mfa_state_set(
                    users=DirectoryUser.objects.filter(pk__in=ids), state=state, context=csv_context
                )
            )
        self._report(outcome)
        if parsed.errors:
            raise CommandError(f"{len(parsed.errors)} line(s) of the file were not applied.")

    def _report(self, outcome: Outcome) -> None:
        for item in outcome.skipped:
            self.stderr.write(f"skipped {item.user_principal_name}: {item.reason}")
        self.stdout.write(
            f"{len(outcome.changed)} changed, {len(outcome.unchanged)} already so, "
            f"{len(outcome.skipped)} skipped."
        )

    def handle_report(self, options: dict[str, Any]) -> None:
        users = users_matching(
            UserFilter.from_params(options["view"], options["status"], options["search"])
        )
        for line in report_csv_lines(users):
            self.stdout.write(line, ending="")
