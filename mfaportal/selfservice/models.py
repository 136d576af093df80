"""Multi-step self-service flows, one row each (the session holds only the row's id).

A flow's state (the half-finished sign-in, a registration under way, a phone change waiting
for its code, a password reset) lives here rather than in a session dict, because a
session is saved whole by whichever request ends last: a poll, an approval in another tab
and a click would overwrite each other's progress. Every change of a row is a conditional
update on the version it was read at (``selfservice/flows.py``), so two requests racing
from the same step cannot both move it, and neither can undo what the other did.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Flow(models.Model):
    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "sign-in"  # challenge, registration, app passwords, new password
        PHONE_CHANGE = "phone_change", "phone change"  # a new number waiting for its code
        APP_SETUP = "app_setup", "app set-up"  # an authenticator app being added
        STEP_UP = "step_up", "step-up"  # a change waiting for the password again
        RECOVERY = "recovery", "recovery"  # Don't lose access to your account!
        PASSWORD_RESET = "password_reset", "password reset"  # Forgot my password
        PASSKEY_SETUP = "passkey_setup", "passkey set-up"  # a security key being added

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Empty only for a password reset that names no user of this directory.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    stage = models.CharField(max_length=32, blank=True)
    version = models.PositiveIntegerField(default=1)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.stage} (v{self.version})"
