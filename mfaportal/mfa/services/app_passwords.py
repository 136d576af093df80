"""App passwords for non-browser apps (DESIGN §5.4).

16 lowercase letters from ``secrets`` (26^16 ≈ 2^75), stored as HMAC-SHA-256 under a
server key: the legacy endpoint finds the row with one indexed look-up on the digest, with
no loop over slow password hashes however many a user holds.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record, audit_record_many
from mfaportal.core.chunks import chunked
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.crypto import keyed_hash
from mfaportal.mfa.models import AppPassword, MfaState, ServiceSettings, UserMfa
from mfaportal.mfa.services.targets import permitted

logger = logging.getLogger(__name__)

MAX_PER_USER = 40
LENGTH = 16
ALPHABET = string.ascii_lowercase
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AppPasswordRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def app_password_generate() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def app_password_digest(value: str) -> str:
    """Case and spaces don't matter when a person types it into an app."""
    return keyed_hash("".join(value.split()).lower(), purpose="app-password")


def app_passwords_available(
    user: DirectoryUser, service: ServiceSettings | None = None, *, mfa: UserMfa | None = None
) -> bool:
    """Allowed by the admin, for a user whose account uses multi-factor authentication.
    ``mfa``: the user's MFA row when the caller has read it already (no query then)."""
    service = service or ServiceSettings.load()
    if not service.app_passwords_allowed:
        return False
    state: int | None
    if mfa is not None:
        state = mfa.state
    else:
        state = UserMfa.objects.filter(user=user).values_list("state", flat=True).first()
    return state in (MfaState.ENABLED, MfaState.ENFORCED)


def app_password_service_parse(value: str | None) -> str:
    """A service name as a client or nginx sends it (``mail``, `` Mail ``) → the stored
    value; "" when none is named. ValueError for a name that isn't one of ours."""
    wanted = (value or "").strip().lower()
    if wanted and wanted not in AppPassword.Service.values:
        raise ValueError(wanted)
    return wanted


def app_password_service_choices(*, binding_required: bool) -> list[tuple[str, str]]:
    """The "what is it for" list: any application first (as before binding existed),
    or, when the admin requires a binding, a prompt to choose one."""
    first = _("Choose one") if binding_required else _("Any application")
    return [
        ("", first),
        *((str(value), str(label)) for value, label in AppPassword.Service.choices),
    ]


def app_password_allows(app_password: AppPassword, service: str) -> bool:
    """An unbound app password works for every application; a bound one only where the
    request names its service (a request that names none can't show it is that one)."""
    return not app_password.service or app_password.service == service


def app_password_create(
    *, user: DirectoryUser, name: str, context: ChangeContext, service: str = ""
) -> tuple[AppPassword, str]:
    """Create one, bound to ``service`` or ("") to any application; the clear password is
    returned once and never stored."""
    name = name.strip()
    if not name:
        raise AppPasswordRefused(_("Give the app password a name, such as the device it's for."))
    if len(name) > 64:
        raise AppPasswordRefused(_("Use a name of at most 64 characters."))
    if service and service not in AppPassword.Service.values:
        raise AppPasswordRefused(_("Choose what the app password is for from the list."))
    settings_row = ServiceSettings.load()
    if not app_passwords_available(user, settings_row):
        raise AppPasswordRefused(_("Your administrator doesn't allow app passwords."))
    if not service and settings_row.app_password_binding_required:
        raise AppPasswordRefused(
            _("Choose what the app password is for: your administrator requires it.")
        )
    with transaction.atomic():
        # Lock the user's row so two parallel creates can't both pass the limit.
        DirectoryUser.objects.select_for_update().filter(pk=user.pk).first()
        if AppPassword.objects.filter(user=user).count() >= MAX_PER_USER:
            raise AppPasswordRefused(
                _(
                    "You already have %(max)d app passwords, the most allowed. Delete one you "
                    "no longer use, then create a new one."
                )
                % {"max": MAX_PER_USER}
            )
        value = app_password_generate()
        app_password = AppPassword.objects.create(
            user=user, name=name, digest=app_password_digest(value), service=service
        )
        # A person who once said no non-browser app would use the account has changed mind.
        UserMfa.objects.filter(user=user).update(app_passwords_declined_at=None)
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.app_password_created",
                after=name,
                detail={"id": app_password.pk, "service": service},
            ),
        )
    logger.info("app password %s created for user %s", app_password.pk, user.pk)
    return app_password, value


def app_passwords_decline(*, user: DirectoryUser, context: ChangeContext) -> None:
    """Seed 004's other answer at *Keep using your existing applications*: no non-browser
    app will use this account. Nothing is created; the choice is remembered (the app
    passwords tab shows it) until the person creates an app password after all."""
    with transaction.atomic():
        changed = UserMfa.objects.filter(user=user, app_passwords_declined_at__isnull=True).update(
            app_passwords_declined_at=timezone.now()
        )
        if changed:
            audit_record(context, AuditEntry.about(user, "mfa.app_passwords_declined"))


def app_password_delete(
    *, user: DirectoryUser, app_password_id: int, context: ChangeContext
) -> bool:
    """Delete one of the user's own app passwords (another user's id finds nothing)."""
    with transaction.atomic():
        app_password = AppPassword.objects.filter(pk=app_password_id, user=user).first()
        if app_password is None:
            return False
        app_password.delete()
        audit_record(
            context,
            AuditEntry.about(
                user,
                "mfa.app_password_deleted",
                before=app_password.name,
                detail={"id": app_password_id},
            ),
        )
    return True


def app_passwords_delete_all(*, users: QuerySet[DirectoryUser], context: ChangeContext) -> Outcome:
    """ "Delete all existing app passwords generated by the selected users": the portal's own.
    Where the directory keeps app passwords it cannot be asked to delete (graph mode), the
    pages and the command line say so (``Directory.portal_only``)."""
    rows, outcome = permitted(users, context, policy.Action.APP_PASSWORDS)
    entries = []
    with transaction.atomic():
        for chunk in chunked(rows):
            ids = [row.id for row in chunk]
            counts = Counter(
                AppPassword.objects.filter(user_id__in=ids).values_list("user_id", flat=True)
            )
            AppPassword.objects.filter(user_id__in=ids).delete()
            entries += [
                AuditEntry(
                    "mfa.app_passwords_deleted",
                    row.id,
                    row.upn,
                    before=str(counts[row.id]),
                    after="0",
                )
                for row in chunk
            ]
        audit_record_many(context, entries)
    outcome.changed += [UserResult(row.upn) for row in rows]
    return outcome


def app_password_match(*, user_id: int, value: str) -> AppPassword | None:
    """The user's app password with this value: one indexed look-up on the digest."""
    app_password = AppPassword.objects.filter(digest=app_password_digest(value)).first()
    if app_password is None or app_password.user_id != user_id:
        return None
    return app_password


def app_password_used(app_password: AppPassword, *, service: str = "", address: str = "") -> None:
    """Record use: when, for which service and from which address. At most once a minute
    per app password while those stay the same (no write on every request)."""
    now = timezone.now()
    if (
        app_password.last_used_at is None
        or now - app_password.last_used_at >= LAST_USED_RESOLUTION
        or app_password.last_used_service != service
        or app_password.last_used_address != address
    ):
        AppPassword.objects.filter(pk=app_password.pk).update(
            last_used_at=now, last_used_service=service, last_used_address=address[:45]
        )
