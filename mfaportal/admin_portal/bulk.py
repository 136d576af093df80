"""Verifying a bulk update file for the page (DESIGN §4.3).

The file is read by ``mfaportal.mfa.bulk_csv`` (shared with the CLI); the page adds the
checks that depend on the users found, so that verification names every line that would
not apply before anything is changed.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from mfaportal.admin_portal.models import BulkUpload
from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.bulk_csv import MAX_BYTES, bulk_file_parse
from mfaportal.mfa.services.targets import target_rows

SAMPLE_FILE = "Username,MFA Status\r\nchris@contoso.test,Enabled\r\nben@contoso.test,Disabled\r\n"


def file_too_large_message() -> str:
    return _("The file is larger than 5 MB. Split it into smaller files.")


def bulk_upload_verify(*, data: bytes, file_name: str, actor: DirectoryUser) -> BulkUpload:
    """Check every line of the file and keep the verdict: the rows that will apply and the
    lines that won't, each with its line number and reason."""
    if len(data) > MAX_BYTES:
        return BulkUpload.objects.create(
            created_by=actor,
            file_name=file_name[:255],
            size=len(data),
            fatal=file_too_large_message(),
        )
    if b"\x00" in data:
        # Spreadsheets save UTF-16 with NUL bytes; PostgreSQL would also refuse them in a query.
        return BulkUpload.objects.create(
            created_by=actor,
            file_name=file_name[:255],
            size=len(data),
            fatal=_("The file is not UTF-8 text (it holds NUL bytes). Save it as CSV UTF-8."),
        )
    parsed = bulk_file_parse(data)
    errors: list[list[Any]] = [
        [error.line, error.username, error.reason] for error in parsed.errors
    ]
    rows: list[list[Any]] = []
    if parsed.ok:
        # The policy's answer for each line, before anything is applied.
        who = policy.Actor(user_id=actor.pk, capabilities=actor.capabilities)
        targets = {
            row.id: row.target
            for chunk in chunked(sorted({row.user_id for row in parsed.rows}))
            for row in target_rows(DirectoryUser.objects.filter(pk__in=chunk))
        }
        for row in parsed.rows:
            target = targets.get(row.user_id)
            if target is None:  # removed since the file was read (a sync)
                errors.append([row.line, row.username, _("User does not exist in this directory.")])
                continue
            refusal = policy.may_change(who, target, policy.Action.STATE) or policy.eligible(
                target, row.state
            )
            if refusal:
                errors.append([row.line, row.username, refusal])
            else:
                rows.append([row.line, row.username, int(row.state), row.user_id])
        errors.sort(key=lambda error: error[0])
    return BulkUpload.objects.create(
        created_by=actor,
        file_name=file_name[:255],
        size=len(data),
        rows=rows,
        errors=errors,
        fatal=parsed.fatal,
    )
