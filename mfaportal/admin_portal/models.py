"""State of the admin page's long work: bulk update files and background jobs.

A job is the record a background step leaves behind: what was asked, how far it got (the
progress bar reads ``done`` of ``total``), and one row per user with its outcome (the
*Updates successful* dialog and the downloadable results CSV read those). Work is applied
chunk by chunk, each chunk in one transaction with its rows and the new ``done``, so a job
interrupted by a restart resumes exactly where it stopped.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


def users_counted(count: int) -> str:
    """ "12,345 users" in the reader's language."""
    return ngettext("%(count)s user", "%(count)s users", count) % {
        "count": number_format(count, force_grouping=True)
    }


class BulkUpload(models.Model):
    """A verified bulk update file: the rows that can be applied and the lines that can't."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    file_name = models.CharField(max_length=255, blank=True)
    size = models.PositiveIntegerField(default=0)
    # [[line, user name as written, MfaState value, user id], ...]: at most MAX_USERS rows.
    # Pages that need only the counts defer it.
    rows = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    # The lines that will not apply are ``BulkUploadError`` rows, read a page at a time.
    error_count = models.PositiveIntegerField(default=0)
    fatal = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.file_name or str(self.id)


class BulkUploadError(models.Model):
    """One line of a bulk update file that will not apply, and why (in file order by id)."""

    upload = models.ForeignKey(BulkUpload, on_delete=models.CASCADE, related_name="problems")
    line = models.PositiveIntegerField()
    username = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=255)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["upload", "id"], name="bulkuploaderror_upload_id")]

    def __str__(self) -> str:
        return f"{self.line}: {self.reason}"


class BulkJob(models.Model):
    class Kind(models.TextChoices):
        STATE = "state", _("Change multi-factor auth status")
        USER_SETTINGS = "user_settings", _("Manage user settings")
        BULK_UPDATE = "bulk_update", _("bulk update")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Updating")
        SUCCEEDED = "succeeded", _("Finished")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched after every chunk: a running job whose heartbeat is old was interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # {"state": 1}, {"require_reregistration": true, ...} or {"file_name": "users.csv"}
    params = models.JSONField(default=dict)
    # The users the step was asked for, fixed when it was asked (ids, in the order applied).
    user_ids = models.JSONField(default=list)
    upload = models.OneToOneField(
        BulkUpload, on_delete=models.SET_NULL, null=True, blank=True, related_name="job"
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Applied by the task worker rather than within the request that asked for it.
    background = models.BooleanField(default=False)
    # A bulk update copies its file's invalid lines into its results a chunk at a time before
    # applying the rest: the id of the last ``BulkUploadError`` copied, so a resumed job
    # neither skips nor repeats one.
    invalid_copied_to = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_by", "background", "-created_at"], name="bulkjob_by_at")
        ]

    def __str__(self) -> str:
        return str(self.description)

    @property
    def description(self) -> str:
        """What the job does, in the reader's language: it is worded when shown, not when
        asked, so a Spanish admin reads a job an English admin started in Spanish."""
        from mfaportal.admin_portal.jobs.kinds import job_kind  # the kinds import this module

        return job_kind(self).describe(self, users_counted(self.total))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)

    @property
    def percent_announced(self) -> int:
        """The progress a screen reader hears: in steps of ten, so it speaks now and then."""
        return self.percent // 10 * 10

    @property
    def problems(self) -> int:
        return self.skipped + self.failed


class BulkJobRow(models.Model):
    """What happened to one user (or one line of a bulk update file)."""

    class Outcome(models.TextChoices):
        CHANGED = "changed", _("Updated")
        UNCHANGED = "unchanged", _("Already so")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")
        INVALID = "invalid", _("Not applied: the line is invalid")

    # Indexed by ``bulkjobrow_job_outcome``, which leads with it (issue 15: one index less
    # for each result row a bulk step writes).
    job = models.ForeignKey(BulkJob, on_delete=models.CASCADE, related_name="rows", db_index=False)
    line = models.PositiveIntegerField(null=True, blank=True)
    user_principal_name = models.CharField(max_length=255)
    requested = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["job", "outcome", "id"], name="bulkjobrow_job_outcome"),
            # The rows that say why (a skip, a failure, Enabled that became Enforced): the
            # result dialog lists the first fifty Enforced and counts the rest without
            # reading every changed row; kept small, it is written for those rows only.
            models.Index(
                fields=["job", "outcome", "reason"],
                name="bulkjobrow_job_reason",
                condition=models.Q(reason__gt=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_principal_name}: {self.outcome}"
