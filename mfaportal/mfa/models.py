"""The MFA domain: per-user state, verification methods, app passwords, remembered devices,
and the tenant's service settings."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from mfaportal.core.prepared import Prepared, prepared_rows


class MfaState(models.IntegerChoices):
    DISABLED = 0, _("Disabled")
    ENABLED = 1, _("Enabled")
    ENFORCED = 2, _("Enforced")

    @property
    def code(self) -> str:
        """MSOnline's name of the state ("Enabled"): what records store, never a translation."""
        return self.name.capitalize()

    @classmethod
    def parse(cls, value: str) -> MfaState:
        """'enabled', 'Enabled', ' ENFORCED ' → the state; ValueError for anything else."""
        wanted = value.strip().lower()
        for state in cls:
            if state.name.lower() == wanted:
                return state
        raise ValueError(f"{value!r} is not one of Enabled, Enforced, Disabled")


class MethodType(models.TextChoices):
    """MSOnline's StrongAuthenticationMethods MethodType values."""

    ONE_WAY_SMS = "OneWaySMS", _("Text code to my authentication phone")
    TWO_WAY_VOICE_MOBILE = "TwoWayVoiceMobile", _("Call my authentication phone")
    TWO_WAY_VOICE_OFFICE = "TwoWayVoiceOffice", _("Call my office phone")
    TWO_WAY_VOICE_ALTERNATE_MOBILE = "TwoWayVoiceAlternateMobile", _("Call my alternate phone")
    PHONE_APP_NOTIFICATION = "PhoneAppNotification", _("Notify me through app")
    PHONE_APP_OTP = "PhoneAppOTP", _("Use verification code from app or token")
    # Not an MSOnline value (the 2013 pages had no passkeys): the portal's name for a
    # FIDO2 security key or passkey as the default (Graph's signInPreferences say "fido2").
    PASSKEY = "Passkey", _("Use a passkey or security key")


class UserMfa(models.Model):
    """StrongAuthenticationRequirements of one user (RelyingParty "*")."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="mfa"
    )
    state = models.PositiveSmallIntegerField(choices=MfaState.choices, default=MfaState.DISABLED)
    remember_devices_not_issued_before = models.DateTimeField(null=True, blank=True)
    must_register = models.BooleanField(
        default=False, help_text="Provide contact methods again at next sign-in."
    )
    default_method = models.CharField(max_length=32, choices=MethodType.choices, blank=True)
    # A fraud report can block the user from MFA sign-in until an admin lifts it.
    blocked_for_fraud_at = models.DateTimeField(null=True, blank=True)
    # The person said no non-browser app will use this account (seed 004's choice at
    # *Keep using your existing applications*); creating an app password undoes it.
    app_passwords_declined_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.get_state_display()}"


class VerificationMethod(models.Model):
    class Kind(models.TextChoices):
        AUTHENTICATION_PHONE = "authentication_phone", _("Authentication phone")
        ALTERNATE_PHONE = "alternate_phone", _("Alternate authentication phone")
        OFFICE_PHONE = "office_phone", _("Office phone")
        AUTHENTICATOR_APP = "authenticator_app", _("Authenticator app")
        HARDWARE_TOKEN = "hardware_token", _("Hardware token")
        PASSKEY = "passkey", _("Security key or passkey")

    class AppMode(models.TextChoices):
        NOTIFICATION = "notification", _("Receive notifications for verification")
        CODE = "code", _("Use verification code")

    PHONE_KINDS = (Kind.AUTHENTICATION_PHONE, Kind.ALTERNATE_PHONE, Kind.OFFICE_PHONE)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="methods"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    phone_number = models.CharField(max_length=20, blank=True, help_text="E.164")
    extension = models.CharField(max_length=10, blank=True)
    app_mode = models.CharField(max_length=16, choices=AppMode.choices, blank=True)
    device_name = models.CharField(max_length=128, blank=True)
    # TOTP key: AES-GCM ciphertext and the id of the key that encrypted it.
    secret_ciphertext = models.BinaryField(null=True, blank=True)
    secret_key_id = models.CharField(max_length=32, blank=True)
    # Last accepted TOTP time step: a code at or before it is a replay.
    last_used_step = models.BigIntegerField(null=True, blank=True)
    # Consecutive wrong codes and the exponential lockout they earned (mfa/lockout.py).
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=models.Q(
                    kind__in=["authentication_phone", "alternate_phone", "office_phone"]
                ),
                name="mfa_one_phone_of_each_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of user {self.user_id}"

    @property
    def method_types(self) -> tuple[MethodType, ...]:
        """The MSOnline MethodTypes this registration makes available."""
        if self.kind == self.Kind.AUTHENTICATION_PHONE:
            return (MethodType.ONE_WAY_SMS, MethodType.TWO_WAY_VOICE_MOBILE)
        if self.kind == self.Kind.ALTERNATE_PHONE:
            return (MethodType.TWO_WAY_VOICE_ALTERNATE_MOBILE,)
        if self.kind == self.Kind.OFFICE_PHONE:
            return (MethodType.TWO_WAY_VOICE_OFFICE,)
        if self.kind == self.Kind.AUTHENTICATOR_APP and self.app_mode == self.AppMode.NOTIFICATION:
            return (MethodType.PHONE_APP_NOTIFICATION, MethodType.PHONE_APP_OTP)
        if self.kind == self.Kind.PASSKEY:
            return (MethodType.PASSKEY,)
        return (MethodType.PHONE_APP_OTP,)


class AppPassword(models.Model):
    """A password for a non-browser app. Only a keyed hash of it is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_passwords"
    )

    class Service(models.TextChoices):
        """What a bound app password is for (issue 16.4); "" = any application."""

        MAIL = "mail", _("Mail (IMAP/POP/SMTP)")
        CALENDAR = "calendar", _("Calendar and contacts")
        OFFICE = "office", _("Office apps")
        OTHER = "other", pgettext_lazy("app password service", "Other")

    name = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, unique=True, help_text="HMAC-SHA-256, hex")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    service = models.CharField(max_length=16, choices=Service.choices, blank=True, default="")
    last_used_service = models.CharField(
        max_length=16, choices=Service.choices, blank=True, default=""
    )
    last_used_address = models.CharField(max_length=45, blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.name


class RememberedDevice(models.Model):
    """A browser that chose "Don't ask again for N days". The cookie is kept hashed."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="remembered_devices"
    )
    digest = models.CharField(max_length=64, unique=True)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.label or 'device'} of user {self.user_id}"


class ServiceSettings(models.Model):
    """The tenant-wide "service settings" tab (one row)."""

    app_passwords_allowed = models.BooleanField(default=False)
    skip_mfa_for_federated_intranet = models.BooleanField(default=False)
    trusted_ip_ranges = models.TextField(blank=True, default="", help_text="One CIDR a line")
    method_call = models.BooleanField(default=True)
    method_text = models.BooleanField(default=True)
    method_app_notification = models.BooleanField(default=True)
    method_app_code = models.BooleanField(default=True)
    remember_devices_allowed = models.BooleanField(default=False)
    remember_devices_days = models.PositiveSmallIntegerField(default=14)
    fraud_report_allowed = models.BooleanField(default=True)
    fraud_report_blocks_user = models.BooleanField(default=False)
    # Self-service password reset (DESIGN §5.7): on or off, and how many registered methods
    # (authentication email, authentication phone) a person proves to reset: 1 or 2.
    password_reset_enabled = models.BooleanField(default=False)
    password_reset_methods_required = models.PositiveSmallIntegerField(default=2)
    # Issue 16.4: new app passwords must name the application they are for. Unbound ones
    # created before keep working until deleted.
    app_password_binding_required = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "service settings"

    def __str__(self) -> str:
        return "service settings"

    @classmethod
    def load(cls) -> ServiceSettings:
        """The row, read fresh (an admin's change shows at once in every process) by a
        statement compiled once (issue 15: most pages read it); made on first use."""
        found = prepared_rows(_SERVICE_SETTINGS, cls, (1,))
        if found:
            return found[0]
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


# Compiled once per database (core.prepared): the stand-in for the row's id.
_SERVICE_SETTINGS = Prepared(lambda pk: ServiceSettings.objects.filter(pk=pk), (-8_675_309,))


# --- sign-in challenges, telephony, throttling (issue 4) -------------------------------------


class VerificationChallenge(models.Model):
    """One attempt to prove a method: a text code, a call, or an app notification.

    The id is a random UUID: the simulators and a telephony gateway's callback name a
    challenge by it, so it must not be guessable. Codes are kept only as keyed hashes.
    """

    class Channel(models.TextChoices):
        TEXT = "text", _("Text message")
        CALL = "call", _("Phone call")
        APP_NOTIFICATION = "app_notification", _("App notification")
        EMAIL = "email", _("Email")

    class Purpose(models.TextChoices):
        SIGN_IN = "sign_in", _("Sign-in")
        REGISTRATION = "registration", _("Registration")
        CHANGE = "change", _("Method change")
        PASSWORD_RESET = "password_reset", _("Password reset")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        FRAUD = "fraud", _("Fraud reported")
        CONSUMED = "consumed", _("Used")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="challenges"
    )
    # Empty while a new phone or app is being verified (registration, a changed number).
    method = models.ForeignKey(
        VerificationMethod, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    phone_number = models.CharField(max_length=20, blank=True)
    extension = models.CharField(max_length=10, blank=True)
    # The address an email code went to (the authentication email, DESIGN §5.7).
    email_address = models.CharField(max_length=320, blank=True)
    code_digest = models.CharField(max_length=64, blank=True)
    # Number matching: the two digits the sign-in page shows and the app must type.
    match_number = models.CharField(max_length=2, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "status"], name="mfa_challenge_user_status")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} for user {self.user_id} ({self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class TelephonyMessage(models.Model):
    """The outbox telephony backend: a text or call as the phone would receive it."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text message")
        CALL = "call", _("Phone call")

    to_number = models.CharField(max_length=20, help_text="E.164")
    extension = models.CharField(max_length=10, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    body = models.TextField()
    challenge = models.ForeignKey(
        VerificationChallenge, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    keys_pressed = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["to_number", "-created_at"], name="mfa_telephony_to_at")]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_number}"


class ThrottleBucket(models.Model):
    """A fixed-window failure counter shared by every process (sign-in, legacy endpoint and
    code limits). ``count`` includes attempts reserved and still being checked."""

    key = models.CharField(max_length=200, unique=True)
    window_started_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.key


class FamiliarAddress(models.Model):
    """A client address this user completed a password sign-in from: a *familiar location*
    in the sense of Microsoft's smart lockout, which the per-account ceiling of failures does
    not shut out (mfa/signin.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="familiar_addresses"
    )
    address = models.CharField(max_length=45)
    last_success_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "address"], name="familiar_address_once")
        ]

    def __str__(self) -> str:
        return f"{self.address} for user {self.user_id}"


# --- account recovery (issue 7) --------------------------------------------------------------


class AuthenticationEmail(models.Model):
    """The address a person proved with a mailed code, for self-service password reset.

    Kept only once verified; never an address in the tenant's own domains (a reset code
    must not go to the mailbox of the account being recovered)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="authentication_email",
    )
    address = models.CharField(max_length=320)
    verified_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"authentication email of user {self.user_id}"


class OutboxEmail(models.Model):
    """The outbox mail backend: each message as the mailbox would receive it (local mode;
    /demo/mail/ shows them like the phone simulator shows texts)."""

    from_address = models.CharField(max_length=320, blank=True)
    to_address = models.CharField(max_length=320)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["to_address", "-created_at"], name="mfa_outbox_mail_to_at")]

    def __str__(self) -> str:
        return f"mail to {self.to_address}"


class SecretShownOnce(models.Model):
    """A secret the portal shows once (an app password, a temporary password), sealed until
    the page that shows it reads it. The read deletes the row, so a reload or Back finds
    nothing to show and creates nothing; an unread one expires within minutes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Who may read it: the person whose action made it (the user, or the helpdesk agent).
    reader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=32)
    # What it is for, not secret (an app password's name), shown beside it.
    label = models.CharField(max_length=64, blank=True)
    sealed = models.BinaryField()
    key_id = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.purpose} for user {self.reader_id}"


class TemporaryAccessPass(models.Model):
    """A time-limited pass a helpdesk agent or admin issues so a user can sign in without
    their password and second factor, and register methods again (Entra's Temporary Access
    Pass). One per user (Microsoft's rule: a new pass replaces the old). Only a keyed hash
    of the pass is kept; a one-time pass keeps the moment it was used."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="temporary_access_pass"
    )
    # Empty for a pass the directory of record issued (graph mode): it is checked there.
    digest = models.CharField(max_length=64, blank=True, help_text="HMAC-SHA-256, hex")
    # The directory's id of the pass (graph mode), to delete it there.
    directory_id = models.CharField(max_length=64, blank=True)
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    one_time = models.BooleanField(default=False)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"temporary access pass of user {self.user_id}"

    def usability(self, now: datetime) -> str:
        """Graph's ``methodUsabilityReason``, as the detail page words it."""
        if self.one_time and self.used_at is not None:
            return "used"
        if now < self.starts_at:
            return "not_yet_valid"
        if now >= self.expires_at:
            return "expired"
        return "usable"

    @property
    def lifetime_minutes(self) -> int:
        return int((self.expires_at - self.starts_at).total_seconds() // 60)


# --- the sign-in log (issue 16.5) -------------------------------------------------------------


class SignInClient(models.TextChoices):
    BROWSER = "browser", _("Browser")
    LEGACY = "legacy", _("Non-browser app")


class SignInAsked(models.TextChoices):
    """What a sign-in attempt answered. The newer methods add their sign-ins by calling
    ``mfa.services.signin_log.signin_record`` with their value here."""

    PASSWORD = "password", _("Password")
    APP_PASSWORD = "app_password", _("App password")
    TEXT_CODE = "text_code", _("Code sent by text message")
    PHONE_CALL = "phone_call", _("Phone call")
    APP_NOTIFICATION = "app_notification", _("Notification through mobile app")
    APP_CODE = "app_code", _("Verification code from mobile app")
    HARDWARE_TOKEN = "hardware_token", _("Hardware token code")
    TEMPORARY_ACCESS_PASS = "temporary_access_pass", _("Temporary Access Pass")
    PASSKEY = "passkey", _("Passkey or security key")
    # Graph mode's staff sign-in: Entra ID asked for whatever its policies require.
    ENTRA_ID = "entra_id", _("Microsoft Entra ID")


class SignInResult(models.TextChoices):
    SUCCESS = "success", _("Success")
    # Entra's "Interrupted": the answer was right and another step follows (MFA,
    # registration, a new password).
    INTERRUPTED = "interrupted", _("Interrupted")
    FAILURE = "failure", _("Failure")


class SignInReason(models.TextChoices):
    NONE = "", _("None")
    SECOND_FACTOR_REQUIRED = "second_factor_required", _("Second factor required")
    REGISTRATION_REQUIRED = "registration_required", _("Registration required")
    PASSWORD_CHANGE_REQUIRED = "password_change_required", _("Password change required")
    UNKNOWN_USER = "unknown_user", _("Unknown user")
    WRONG_PASSWORD = "wrong_password", _("Wrong password")
    WRONG_CODE = "wrong_code", _("Wrong code")
    EXPIRED = "expired", _("Expired")
    DENIED = "denied", _("Denied")
    LOCKED = "locked", _("Locked: too many attempts")
    ACCOUNT_DISABLED = "account_disabled", _("Sign-in blocked")
    FRAUD_BLOCK = "fraud_block", _("Blocked after a fraud report")
    NOT_ALLOWED = "not_allowed", _("Not allowed")


class SignInEvent(models.Model):
    """One browser or legacy sign-in attempt (Entra's sign-in logs, Keycloak's events).

    Written with one INSERT per attempt (``signin_record``), kept for
    ``MFAPORTAL_SIGNIN_LOG_DAYS`` days (``mfa.tasks.signin_log_prune``). Never a secret: the
    name typed is kept when it matches no user, the password typed never."""

    at = models.DateTimeField(default=timezone.now)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sign_in_events",
    )
    # The user name as typed (or the user's, when known): it survives the user's deletion.
    user_label = models.CharField(max_length=255)
    address = models.GenericIPAddressField(null=True, blank=True)
    client = models.CharField(max_length=16, choices=SignInClient.choices)
    asked = models.CharField(max_length=32, choices=SignInAsked.choices)
    result = models.CharField(max_length=16, choices=SignInResult.choices)
    reason = models.CharField(max_length=32, choices=SignInReason.choices, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="signin_at"),
            models.Index(fields=["user", "-at", "-id"], name="signin_user_at"),
            models.Index(fields=["result", "-at", "-id"], name="signin_result_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_label} {self.asked} {self.result}"


# --- hardware OATH tokens (issue 16.3) -------------------------------------------------------


class HardwareOathToken(models.Model):
    """A hardware OATH-TOTP token uploaded by an admin (Entra's CSV: upn, serial number,
    secret key, time interval, manufacturer, model). The key is encrypted at rest, bound to
    the serial number. Unassigned (no user), assigned (a user, not yet proved), activated
    (the user entered a code from it: ``method`` is the sign-in method it became)."""

    class State(models.TextChoices):
        UNASSIGNED = "unassigned", _("Unassigned")
        ASSIGNED = "assigned", _("Assigned")
        ACTIVATED = "activated", _("Activated")

    serial_number = models.CharField(max_length=64, unique=True)
    manufacturer = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=64, blank=True)
    time_interval = models.PositiveSmallIntegerField(default=30, help_text="Seconds: 30 or 60")
    secret_ciphertext = models.BinaryField()
    secret_key_id = models.CharField(max_length=32)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="hardware_oath_tokens",
    )
    # Deleting the method (re-registration, the person's own delete) deactivates the token:
    # it stays assigned, as Microsoft's "require re-registration" leaves hardware tokens.
    method = models.OneToOneField(
        VerificationMethod,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="hardware_oath_token",
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["serial_number"]

    def __str__(self) -> str:
        return f"hardware token {self.serial_number}"

    @property
    def state(self) -> str:
        if self.method_id is not None:
            return self.State.ACTIVATED
        if self.user_id is not None:
            return self.State.ASSIGNED
        return self.State.UNASSIGNED

    def get_state_display(self) -> str:
        return str(self.State(self.state).label)

    @property
    def label(self) -> str:
        """What the person sees: "Contoso Token 1000 (serial 1234)"."""
        name = " ".join(part for part in (self.manufacturer, self.model) if part)
        return f"{name} ({self.serial_number})" if name else self.serial_number


# --- passkeys and security keys (issue 16.1) -------------------------------------------------


class PasskeyCredential(models.Model):
    """The WebAuthn side of a ``VerificationMethod`` of kind passkey: what the authenticator
    gave at registration (its attestation kept as received) and the signature counter.

    Nothing here is secret: the private key never leaves the authenticator."""

    method = models.OneToOneField(
        VerificationMethod, on_delete=models.CASCADE, primary_key=True, related_name="passkey"
    )
    # base64url of the credential id (at most 1,023 bytes), unique across the tenant.
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField(help_text="COSE public key")
    sign_count = models.BigIntegerField(default=0)
    aaguid = models.CharField(max_length=36, blank=True)
    attestation_format = models.CharField(max_length=32, blank=True)
    attestation_object = models.BinaryField()
    transports = models.CharField(max_length=200, blank=True)
    backed_up = models.BooleanField(default=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"passkey {self.method_id}"
