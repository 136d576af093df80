"""Account recovery (DESIGN §5.7): temporary passwords, the authentication email, and
self-service password reset. Services are keyword-only and audited; selectors read.

The portal keeps passwords only in local mode (graph mode signs in with Entra ID, where
password reset is Entra's own), so every password service here refuses in graph mode.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.modes import local_mode
from mfaportal.core.prepared import Prepared, prepared_rows
from mfaportal.directory.interface import Directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.services import password_set
from mfaportal.mfa import policy
from mfaportal.mfa.models import AuthenticationEmail, ServiceSettings, VerificationMethod
from mfaportal.mfa.phones import phone_international, phone_mask
from mfaportal.mfa.services import remembered_devices_restore, sessions_revoke

logger = logging.getLogger(__name__)

EMAIL = "email"
PHONE = "phone"
# No 0/O, 1/l/I: a temporary password is often read out over the phone.
TEMPORARY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
TEMPORARY_GROUPS = 4


class RecoveryRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- selectors ----------------------------------------------------------------------------


def passwords_kept_here() -> bool:
    return local_mode()


def password_reset_available(service: ServiceSettings | None = None) -> bool:
    """Self-service password reset is on, and the portal is where passwords live."""
    service = service or ServiceSettings.load()
    return passwords_kept_here() and service.password_reset_enabled


def methods_required(user: DirectoryUser, service: ServiceSettings) -> int:
    """1 or 2 as the admin chose; always 2 for holders of an admin role (Microsoft's
    two-gate policy for administrators)."""
    return _required(holds_admin_role=user.holds_admin_role, service=service)


def _required(*, holds_admin_role: bool, service: ServiceSettings) -> int:
    if holds_admin_role:
        return 2
    return 2 if service.password_reset_methods_required >= 2 else 1


def email_mask(address: str) -> str:
    """ad*****@co*****.net: enough to recognise an address, not to learn it."""
    local, _sep, domain = address.partition("@")
    if not domain:
        return "*****"
    name, _dot, tld = domain.rpartition(".")
    shown_domain = f"{name[:2]}*****.{tld}" if name else f"{tld[:2]}*****"
    return f"{local[:2]}*****@{shown_domain}"


@dataclass(frozen=True)
class RecoveryContacts:
    """What a user has registered for self-service password reset."""

    email: str
    email_verified_at: datetime | None
    phone: str  # the authentication phone, E.164
    phone_usable: bool  # the admin allows text or call
    required: int
    enabled: bool  # self-service password reset is on here

    @property
    def methods(self) -> list[str]:
        found = []
        if self.email:
            found.append(EMAIL)
        if self.phone and self.phone_usable:
            found.append(PHONE)
        return found

    @property
    def registered(self) -> bool:
        return len(self.methods) >= self.required

    @property
    def needs_registration(self) -> bool:
        return self.enabled and not self.registered

    @property
    def email_masked(self) -> str:
        return email_mask(self.email) if self.email else ""

    @property
    def phone_masked(self) -> str:
        return phone_mask(self.phone) if self.phone else ""

    @property
    def phone_display(self) -> str:
        return phone_international(self.phone) if self.phone else ""


def recovery_contacts(
    user: DirectoryUser,
    service: ServiceSettings | None = None,
    *,
    methods: list[VerificationMethod] | None = None,
) -> RecoveryContacts:
    """``methods``: the user's methods when the caller has read them all already (in their
    usual order), so the authentication phone costs no query of its own; the email likewise
    where the caller read it onto the user (``selectors.security_info_read``)."""
    service = service or ServiceSettings.load()
    descriptor: Any = DirectoryUser.authentication_email  # the stubs lack reverse descriptors
    if descriptor.is_cached(user):
        email = descriptor.related.get_cached_value(user)
    else:
        emails = prepared_rows(_EMAIL, AuthenticationEmail, (user.pk,))
        email = emails[0] if emails else None
    if methods is None:
        phone = (
            VerificationMethod.objects.filter(
                user=user, kind=VerificationMethod.Kind.AUTHENTICATION_PHONE
            )
            .values_list("phone_number", flat=True)
            .first()
        )
    else:
        phone = next(
            (
                m.phone_number
                for m in sorted(methods, key=lambda m: (m.created_at, m.pk))
                if m.kind == VerificationMethod.Kind.AUTHENTICATION_PHONE
            ),
            None,
        )
    return RecoveryContacts(
        email=email.address if email else "",
        email_verified_at=email.verified_at if email else None,
        phone=phone or "",
        phone_usable=service.method_text or service.method_call,
        required=methods_required(user, service),
        enabled=password_reset_available(service),
    )


# Read by Additional security verification on every view: compiled once.
_EMAIL = Prepared(
    lambda user_id: AuthenticationEmail.objects.filter(user_id=user_id), (-8_675_309,)
)


def registered_for_password_reset(
    *,
    has_email: bool,
    has_authentication_phone: bool,
    holds_admin_role: bool,
    service: ServiceSettings,
) -> bool:
    """The report's column, from rows already loaded (no query per user)."""
    phone_usable = has_authentication_phone and (service.method_text or service.method_call)
    count = int(has_email) + int(phone_usable)
    return count >= _required(holds_admin_role=holds_admin_role, service=service)


def email_domain_is_tenants(address: str) -> bool:
    """The address is in one of the tenant's own domains (or a subdomain of one)."""
    domain = address.rpartition("@")[2].strip().rstrip(".").lower()
    for own in settings.MFAPORTAL_TENANT_DOMAINS:
        own = own.strip().rstrip(".").lower()
        if own and (domain == own or domain.endswith("." + own)):
            return True
    return False


def authentication_email_clean(address: str) -> str:
    """A usable authentication email, normalised; RecoveryRefused says why not."""
    address = address.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise RecoveryRefused(_("Enter a valid email address.")) from None
    local, _sep, domain = address.rpartition("@")
    address = f"{local}@{domain.lower()}"
    if email_domain_is_tenants(address):
        raise RecoveryRefused(
            _(
                "Use an address outside your organization, such as a personal address: a "
                "reset code must not go to the mailbox of the account you are recovering."
            )
        )
    return address


def new_password_problems(user: DirectoryUser, new_password: str) -> list[str]:
    """Django's password validators, and the new password must not be the current one
    (for a temporary password: the one the admin gave)."""
    problems: list[str] = []
    try:
        validate_password(new_password, user)
    except ValidationError as error:
        problems.extend(error.messages)
    if user.has_usable_password() and user.check_password(new_password):
        problems.append(_("Choose a new password: it can't be the same as the current one."))
    return problems


# --- services -----------------------------------------------------------------------------


def temporary_password_generate() -> str:
    """16 characters from a secure random source in four groups (about 93 bits), with upper
    and lower case letters and a digit, so every usual password rule accepts it."""
    while True:
        chars = [secrets.choice(TEMPORARY_ALPHABET) for _ in range(4 * TEMPORARY_GROUPS)]
        if (
            any(c.isupper() for c in chars)
            and any(c.islower() for c in chars)
            and any(c.isdigit() for c in chars)
        ):
            return "-".join("".join(chars[i : i + 4]) for i in range(0, len(chars), 4))


def _refuse_unless_passwords_here() -> None:
    if not passwords_kept_here():
        raise RecoveryRefused(
            _("Passwords are kept in Microsoft Entra ID: reset them in the Entra admin center.")
        )


def password_reset_temporary(
    *, user: DirectoryUser, context: ChangeContext, directory: Directory | None = None
) -> str:
    """An admin or helpdesk resets the user's password to a generated temporary one, shown
    once to them; the user must replace it at the next sign-in. Every session of the user
    ends. Authentication administrators can't reset users beyond their reach
    (``policy.may_change``)."""
    _refuse_unless_passwords_here()
    refusal = policy.may_change(
        policy.Actor.of(context),
        policy.Target.of(user),
        policy.Action.PASSWORD,
    )
    if refusal:
        raise RecoveryRefused(refusal)
    temporary = temporary_password_generate()
    with transaction.atomic():
        password_set(user=user, password=temporary, must_change=True)
        sessions_revoke(
            users=DirectoryUser.objects.filter(pk=user.pk), context=context, directory=directory
        )
        audit_record(
            context,
            AuditEntry.about(
                user,
                "directory.password_reset",
                after="temporary password",
                detail={"must_change_at_next_sign_in": True},
            ),
        )
    logger.info("temporary password set for user %s", user.pk)
    return temporary


def password_change_forced(
    *, user: DirectoryUser, new_password: str, context: ChangeContext
) -> None:
    """The user replaced a temporary password at sign-in (*Update your password*)."""
    _refuse_unless_passwords_here()
    if problems := new_password_problems(user, new_password):
        raise RecoveryRefused(" ".join(problems))
    with transaction.atomic():
        password_set(user=user, password=new_password, must_change=False)
        audit_record(
            context,
            AuditEntry.about(
                user,
                "directory.password_changed",
                before="temporary password",
                after="password chosen by the user",
            ),
        )
    logger.info("user %s replaced a temporary password", user.pk)


def password_reset_self_service(
    *,
    user: DirectoryUser,
    new_password: str,
    methods: list[str],
    context: ChangeContext,
    directory: Directory | None = None,
) -> None:
    """*Forgot my password* after proving the required methods: the new password, and every
    session and remembered device of the user revoked."""
    _refuse_unless_passwords_here()
    if problems := new_password_problems(user, new_password):
        raise RecoveryRefused(" ".join(problems))
    with transaction.atomic():
        password_set(user=user, password=new_password, must_change=False)
        users = DirectoryUser.objects.filter(pk=user.pk)
        sessions_revoke(users=users, context=context, directory=directory)
        remembered_devices_restore(users=users, context=context, directory=directory)
        audit_record(
            context,
            AuditEntry.about(
                user,
                "directory.password_reset",
                after="self-service password reset",
                detail={"methods_proved": sorted(methods)},
            ),
        )
    logger.info("user %s reset their password (self-service)", user.pk)


def authentication_email_set(
    *, user: DirectoryUser, address: str, context: ChangeContext
) -> AuthenticationEmail:
    """Save an authentication email the user has just proved with a mailed code."""
    address = authentication_email_clean(address)
    with transaction.atomic():
        before = (
            AuthenticationEmail.objects.filter(user=user).values_list("address", flat=True).first()
        )
        record, _created = AuthenticationEmail.objects.update_or_create(
            user=user, defaults={"address": address, "verified_at": timezone.now()}
        )
        audit_record(
            context,
            AuditEntry.about(
                user,
                "sspr.authentication_email_set",
                before=email_mask(before) if before else "",
                after=email_mask(address),
            ),
        )
    return record


def authentication_email_delete(*, user: DirectoryUser, context: ChangeContext) -> bool:
    with transaction.atomic():
        record = AuthenticationEmail.objects.filter(user=user).first()
        if record is None:
            return False
        record.delete()
        audit_record(
            context,
            AuditEntry.about(
                user, "sspr.authentication_email_deleted", before=email_mask(record.address)
            ),
        )
    return True
