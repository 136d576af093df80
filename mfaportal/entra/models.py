"""Graph mode's own records: how the cache stands against Graph (the sync status), and the
durable outbox of changes on their way to Graph."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DirectorySyncState(models.Model):
    """The one row that says how the cache stands against Graph (graph mode)."""

    class Status(models.TextChoices):
        IDLE = "idle", "idle"
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    # The whole @odata.deltaLink of the last complete round; empty means "full sync next".
    delta_link = models.TextField(blank=True, default="")
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    last_delta_sync_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IDLE)
    # Set while a run holds the sync (a lock between processes), with a heartbeat so a run
    # that died is not waited for forever.
    running_since = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    run_kind = models.CharField(max_length=8, blank=True, default="")
    stage = models.CharField(max_length=32, blank=True, default="")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    # Counts of the last finished run: users added/updated/removed, states, methods...
    last_counts = models.JSONField(default=dict, blank=True)
    # Per-item problems of the last run that did not stop it (e.g. a 403 on some users).
    last_warnings = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "directory sync state"

    def __str__(self) -> str:
        return f"directory sync: {self.status}"

    @classmethod
    def load(cls) -> DirectorySyncState:
        state, _created = cls.objects.get_or_create(pk=1)
        return state


class OutboxChange(models.Model):
    """A change for Graph, recorded in the same transaction as the admin action that made it
    and sent by a worker until Graph accepts it or definitively refuses it."""

    class Kind(models.TextChoices):
        MFA_STATE = "mfa_state", "per-user MFA state"
        METHODS_DELETE = "methods_delete", "delete authentication methods"
        SESSIONS_REVOKE = "sessions_revoke", "revoke sign-in sessions"
        PASSKEYS_DELETE = "passkeys_delete", "delete passkeys"

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        SENDING = "sending", "sending"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        # A newer change of the same kind for the same user made this one moot.
        SUPERSEDED = "superseded", "superseded"

    OPEN_STATUSES = (Status.PENDING, Status.SENDING)

    # SET_NULL: a user who leaves the directory keeps the record of what was asked for them.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbox_changes",
    )
    # The Graph id the change is sent to, and who it was at the time (for the record).
    object_id = models.UUIDField()
    user_label = models.CharField(max_length=255, blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # While SENDING: who claimed it and until when the claim holds.
    claim_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    graph_error_code = models.CharField(max_length=100, blank=True, default="")
    graph_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbox_changes_made",
    )
    actor_label = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["user", "status"], name="outbox_user_status"),
            models.Index(fields=["object_id", "kind", "status"], name="outbox_target_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_label or self.object_id}: {self.status}"
