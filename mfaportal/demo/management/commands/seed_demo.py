from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from mfaportal.demo.tenant import DEFAULT_PASSWORD, DOMAIN, ROLE_ACCOUNTS, seed_tenant
from mfaportal.directory.models import DirectoryUser

# Where `make demo` serves the portal.
SERVED_AT = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Fill the directory with the demo tenant contoso.test (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, default=500, help="Users besides the named three.")
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Everyone's password.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["users"] < 0:
            self.stderr.write("--users must be 0 or more.")
            sys.exit(2)
        show_progress = self.stdout.isatty() and options["verbosity"] > 0

        def progress(done: int, total: int) -> None:
            if show_progress:
                width = 30
                filled = width * done // max(total, 1)
                self.stdout.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending=""
                )
                self.stdout.flush()

        result = seed_tenant(
            users=options["users"], password=options["password"], progress=progress
        )
        if show_progress:
            self.stdout.write("")
        self.stdout.write(
            f"Demo tenant {DOMAIN}: {result.created} users created, {result.existing} already there "
            f"({result.seconds:.1f} s)."
        )
        self.stdout.write(f"Sign in at {SERVED_AT}/ with:")
        for upn, what in (
            (f"admin@{DOMAIN}", "Global Administrator"),
            (f"helpdesk@{DOMAIN}", "Authentication Administrator"),
            *((upn, role.display_name) for upn, _name, role in ROLE_ACCOUNTS),
            (f"adele@{DOMAIN}", "ordinary user"),
        ):
            self.stdout.write(f"  {upn:<26} {what}")
        self.stdout.write(f"  password: {options['password']}")
        new_hires = DirectoryUser.objects.filter(password_must_change=True).order_by(
            "user_principal_name"
        )
        example = new_hires.first()
        if example is not None:
            self.stdout.write(
                f"{new_hires.count()} new hires (every 50th generated user, such as "
                f"{example.user_principal_name}) sign in with that password as a temporary "
                "one: they must choose a new password, then register for MFA and password reset."
            )
        if settings.MFAPORTAL_SIMULATORS:
            self.stdout.write("Simulators (demo only), to follow a sign-in end to end:")
            for name, what in (
                ("demo:phone", "texts and calls sent to any number; answer a call here"),
                ("demo:authenticator", "the authenticator app of whoever signs in in this browser"),
                ("demo:mail", "mail the portal sent (authentication email codes)"),
            ):
                self.stdout.write(f"  {SERVED_AT}{reverse(name):<22} {what}")
