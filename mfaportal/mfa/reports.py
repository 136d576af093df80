"""The MFA status report: the CSV admins used to write PowerShell for."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet

from mfaportal.core.csv_export import csv_lines, csv_safe
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.mfa.models import (
    AuthenticationEmail,
    MfaState,
    ServiceSettings,
    VerificationMethod,
)
from mfaportal.mfa.recovery import registered_for_password_reset
from mfaportal.mfa.selectors import strong_authentication_methods, user_mfa

REPORT_COLUMNS = [
    "UserPrincipalName",
    "DisplayName",
    "ObjectId",
    "AccountEnabled",
    "IsLicensed",
    "Roles",
    "MfaState",
    "DefaultMethod",
    "Methods",
    "IsRegistered",
    "AppPasswords",
    # Registered for self-service password reset (Graph's isSsprRegistered).
    "IsSsprRegistered",
]


def report_rows(users: QuerySet[DirectoryUser]) -> Iterator[list[str]]:
    """One row per user, streamed in chunks: memory stays flat at 100k users."""
    service = ServiceSettings.load()
    users = (
        users.select_related("mfa", "authentication_email")
        .prefetch_related(
            "methods",
            Prefetch("roles", queryset=DirectoryRole.objects.order_by("display_name")),
            "app_passwords",
        )
        .order_by("display_name", "id")
    )
    for user in users.iterator(chunk_size=1000):
        mfa = user_mfa(user)
        methods = list(user.methods.all())
        strong = strong_authentication_methods(methods, mfa.default_method)
        default = next((m["methodType"] for m in strong if m["isDefault"]), "")
        roles = list(user.roles.all())
        sspr_registered = registered_for_password_reset(
            has_email=_has_authentication_email(user),
            has_authentication_phone=any(
                m.kind == VerificationMethod.Kind.AUTHENTICATION_PHONE for m in methods
            ),
            holds_admin_role=bool(roles),
            service=service,
        )
        yield [
            csv_safe(cell)
            for cell in (
                user.user_principal_name,
                user.display_name,
                user.object_id,
                user.account_enabled,
                user.is_licensed,
                ";".join(role.display_name for role in roles),
                MfaState(mfa.state).label,
                default,
                ";".join(m["methodType"] for m in strong),
                bool(methods),
                len(user.app_passwords.all()),
                sspr_registered,
            )
        ]


def _has_authentication_email(user: DirectoryUser) -> bool:
    try:
        return user.authentication_email is not None
    except AuthenticationEmail.DoesNotExist:
        return False


def report_csv_lines(users: QuerySet[DirectoryUser]) -> Iterator[str]:
    """The report as CSV text, one line at a time (for streaming responses and the CLI)."""
    return csv_lines(REPORT_COLUMNS, report_rows(users))
