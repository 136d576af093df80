"""Verifying a bulk update file for the page (DESIGN §4.3).

The file is read by ``mfaportal.mfa.bulk_csv`` (shared with the CLI), a line at a time; the
page adds the checks that depend on the users found, so that verification names every line
that would not apply before anything is changed. A file over the limits (bytes or users) is
refused and nothing of it is kept; the lines that will not apply are stored as rows of their
own, written a chunk per transaction so that no sign-in waits behind a large file.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from mfaportal.admin_portal.models import BulkUpload, BulkUploadError
from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.bulk_csv import (
    MAX_BYTES,
    MAX_USERS,
    BulkRowError,
    Source,
    bulk_file_parse,
    file_too_large_message,
    source_size,
)
from mfaportal.mfa.services.targets import target_rows

__all__ = ["MAX_BYTES", "MAX_USERS", "BulkFileRefused", "bulk_upload_verify"]

SAMPLE_FILE = "Username,MFA Status\r\nchris@contoso.test,Enabled\r\nben@contoso.test,Disabled\r\n"
# Bad lines written per transaction.
ERRORS_PER_WRITE = 1000


class BulkFileRefused(Exception):
    """The file is over a limit: nothing of it is kept. The message says which."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def bulk_upload_verify(*, data: Source, file_name: str, actor: DirectoryUser) -> BulkUpload:
    """Check every line of the file and keep the verdict: the rows that will apply and the
    lines that won't, each with its line number and reason.

    ``data`` is the file's bytes or a binary file (an upload), read a line at a time. Raises
    ``BulkFileRefused`` for a file over the limits."""
    size = source_size(data)
    if size > MAX_BYTES:
        raise BulkFileRefused(file_too_large_message())
    parsed = bulk_file_parse(data)
    if parsed.too_large:
        raise BulkFileRefused(parsed.fatal)
    errors = list(parsed.errors)
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
                errors.append(
                    BulkRowError(
                        row.line, row.username, _("User does not exist in this directory.")
                    )
                )
                continue
            refusal = policy.may_change(who, target, policy.Action.STATE) or policy.eligible(
                target, row.state
            )
            if refusal:
                errors.append(BulkRowError(row.line, row.username, refusal))
            else:
                rows.append([row.line, row.username, int(row.state), row.user_id])
        errors.sort(key=lambda error: error.line)
    # The rows come last, in one short update: until then the upload offers nothing to apply,
    # so an interrupted verification leaves nothing that could be half applied.
    upload = BulkUpload.objects.create(
        created_by=actor,
        file_name=file_name[:255],
        size=size,
        error_count=len(errors),
        fatal=parsed.fatal,
    )
    for chunk in chunked(errors, ERRORS_PER_WRITE):
        with transaction.atomic():
            BulkUploadError.objects.bulk_create(
                [
                    BulkUploadError(
                        upload=upload,
                        line=error.line,
                        username=error.username[:255],
                        reason=error.reason[:255],
                    )
                    for error in chunk
                ]
            )
    if rows:
        BulkUpload.objects.filter(pk=upload.pk).update(rows=rows, row_count=len(rows))
        upload.rows, upload.row_count = rows, len(rows)
    return upload
