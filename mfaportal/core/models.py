"""The audit log: every change, who made it, from where, before and after."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditSource(models.TextChoices):
    PAGE = "page", _("page")
    CSV = "csv", "CSV"
    CLI = "cli", "CLI"
    SYNC = "sync", _("sync")
    SELF_SERVICE = "self-service", _("self-service")
    SYSTEM = "system", _("system")


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now)
    # No index of their own for ``actor`` and ``target``: ``audit_actor_at`` and
    # ``audit_target_at`` lead with them and serve every look-up (the pages, a deleted
    # user's SET NULL); two more indexes slowed each audit row of a bulk step (issue 15).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events_as_actor",
        db_index=False,
    )
    # Labels survive the deletion of the user rows they name.
    actor_label = models.CharField(max_length=255, blank=True)
    target = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="audit_events_as_target",
        db_index=False,
    )
    target_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64)
    before = models.CharField(max_length=255, blank=True)
    after = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=16, choices=AuditSource.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at"),
            models.Index(fields=["target", "-at"], name="audit_target_at"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
            models.Index(fields=["action", "-at"], name="audit_action_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_label}"
