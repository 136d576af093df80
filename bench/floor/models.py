"""One table of users, as the floors file measured; audit and job rows for the bulk step;
each user's methods and the tenant's method switches for the setup page."""

from __future__ import annotations

from django.db import models


class TenantUser(models.Model):
    user_principal_name = models.CharField(max_length=255)
    display_name = models.CharField(max_length=256)
    mail = models.CharField(max_length=320, blank=True, default="")
    account_enabled = models.BooleanField(default=True)
    is_licensed = models.BooleanField(default=True)
    state = models.PositiveSmallIntegerField(
        default=0, choices=[(0, "Disabled"), (1, "Enabled"), (2, "Enforced")]
    )

    objects: models.Manager[TenantUser] = models.Manager()

    class Meta:
        app_label = "floor"
        db_table = "floor_tenantuser"

    def __str__(self) -> str:
        return self.user_principal_name


class AuditRow(models.Model):
    """The shape of the portal's audit event: same columns, same four indexes, and the actor
    and target as foreign keys, as Django declares them (the composite indexes lead with
    them, so neither has an index of its own)."""

    at = models.DateTimeField()
    actor = models.ForeignKey(
        TenantUser, on_delete=models.SET_NULL, null=True, db_index=False, related_name="+"
    )
    actor_label = models.CharField(max_length=255, blank=True)
    target = models.ForeignKey(
        TenantUser, on_delete=models.SET_NULL, null=True, db_index=False, related_name="+"
    )
    target_label = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64)
    before = models.CharField(max_length=255, blank=True)
    after = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=16)
    ip_address = models.GenericIPAddressField(null=True)
    detail = models.JSONField(default=dict)

    class Meta:
        app_label = "floor"
        db_table = "floor_auditrow"
        indexes = [
            models.Index(fields=["-at", "-id"], name="floor_audit_at"),
            models.Index(fields=["target_id", "-at"], name="floor_audit_target_at"),
            models.Index(fields=["actor_id", "-at"], name="floor_audit_actor_at"),
            models.Index(fields=["action", "-at"], name="floor_audit_action_at"),
        ]

    def __str__(self) -> str:
        return f"{self.target_label}: {self.action}"


class Job(models.Model):
    """A bulk step: what was asked, and when."""

    requested = models.CharField(max_length=32)
    created_at = models.DateTimeField()

    objects: models.Manager[Job] = models.Manager()

    class Meta:
        app_label = "floor"
        db_table = "floor_job"

    def __str__(self) -> str:
        return self.requested


class JobRow(models.Model):
    """The shape of the portal's per-user job result, tied to its job by a foreign key."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, db_index=False)
    line = models.PositiveIntegerField(null=True)
    user_principal_name = models.CharField(max_length=255)
    requested = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        app_label = "floor"
        db_table = "floor_jobrow"
        indexes = [models.Index(fields=["job", "outcome", "id"], name="floor_jobrow_job_outcome")]

    def __str__(self) -> str:
        return f"{self.user_principal_name}: {self.outcome}"


class AppPassword(models.Model):
    """An app password's keyed hash, unique, beside its user (the floor's /legacy/auth)."""

    user = models.ForeignKey(TenantUser, on_delete=models.CASCADE, db_constraint=False)
    digest = models.CharField(max_length=64, unique=True)

    objects: models.Manager[AppPassword] = models.Manager()

    class Meta:
        app_label = "floor"
        db_table = "floor_apppassword"

    def __str__(self) -> str:
        return self.digest


class Method(models.Model):
    """A registered way to verify, as a minimal project would keep it: phones, apps and the
    password reset email in one table (the portal's methods and authentication emails)."""

    user = models.ForeignKey(TenantUser, on_delete=models.CASCADE, db_constraint=False)
    kind = models.CharField(
        max_length=24,
        choices=[
            ("authentication_phone", "Authentication phone"),
            ("office_phone", "Office phone"),
            ("alternate_phone", "Alternate authentication phone"),
            ("authenticator_app", "Authenticator app"),
            ("hardware_token", "Hardware token"),
            ("passkey", "Passkey"),
            ("email", "Authentication email"),
        ],
    )
    phone_number = models.CharField(max_length=20, blank=True)
    extension = models.CharField(max_length=10, blank=True)
    app_mode = models.CharField(
        max_length=16,
        blank=True,
        choices=[("notification", "Receive notifications"), ("code", "Use verification code")],
    )
    device_name = models.CharField(max_length=128, blank=True)
    address = models.CharField(max_length=320, blank=True)
    created_at = models.DateTimeField()

    objects: models.Manager[Method] = models.Manager()

    class Meta:
        app_label = "floor"
        db_table = "floor_method"

    def __str__(self) -> str:
        return self.kind


class Switches(models.Model):
    """The tenant's switches the setup page reads: which methods are allowed, whether
    password reset is on (one row)."""

    method_text = models.BooleanField()
    method_call = models.BooleanField()
    method_app_notification = models.BooleanField()
    method_app_code = models.BooleanField()
    password_reset = models.BooleanField()

    objects: models.Manager[Switches] = models.Manager()

    class Meta:
        app_label = "floor"
        db_table = "floor_switches"

    def __str__(self) -> str:
        return "switches"
