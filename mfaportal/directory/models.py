"""The cached tenant: directory users and their directory roles.

In local mode these rows are the directory; in graph mode they are a cache of Entra ID,
refreshed by sync. The portal account of a person is their directory user.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from mfaportal.core.roles import (
    LIMITED_ROLES_BY_ID,
    ROLES_BY_TEMPLATE_ID,
    WITHIN_REACH_ROLE_IDS,
    Capability,
    beyond_authentication_administrator_reach,
    capabilities_for,
)


class DirectoryRole(models.Model):
    """A directory role (Global Administrator, ...), identified by its role template id."""

    template_id = models.CharField(max_length=36, unique=True)
    display_name = models.CharField(max_length=128)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def label(self) -> str:
        """The role's name in the reader's language (a built-in role's), else as Entra has it."""
        role = ROLES_BY_TEMPLATE_ID.get(self.template_id)
        if role:
            return gettext(role.display_name)
        limited = LIMITED_ROLES_BY_ID.get(self.template_id)
        if limited:
            return gettext("%(role)s (eligible or scoped)") % {
                "role": gettext(limited.display_name)
            }
        return self.display_name

    @property
    def view_label(self) -> str:
        role = ROLES_BY_TEMPLATE_ID.get(self.template_id)
        if role:
            return gettext(role.view_label)
        limited = LIMITED_ROLES_BY_ID.get(self.template_id)
        if limited:
            return gettext("%(roles)s (eligible or scoped)") % {
                "roles": gettext(limited.view_label)
            }
        return self.display_name


class DirectoryUserManager(BaseUserManager["DirectoryUser"]):
    def get_by_natural_key(self, username: str | None) -> DirectoryUser:
        # User principal names are case-insensitive, as in Entra ID.
        return self.by_upn(username or "").get()

    def by_upn(self, upn: str) -> models.QuerySet[DirectoryUser]:
        return self.alias(upn_lower=Lower("user_principal_name")).filter(
            upn_lower=upn.strip().lower()
        )

    def create_user(
        self, user_principal_name: str, password: str | None = None, **fields: Any
    ) -> DirectoryUser:
        user = self.model(user_principal_name=user_principal_name.strip(), **fields)
        user.set_password(password)
        user.save()
        return user


class DirectoryUser(AbstractBaseUser):
    object_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    user_principal_name = models.CharField(max_length=255, unique=True)
    display_name = models.CharField(max_length=256)
    mail = models.CharField(max_length=320, blank=True, default="")
    account_enabled = models.BooleanField(
        default=True, help_text="Sign-in allowed. A blocked user cannot sign in anywhere."
    )
    is_licensed = models.BooleanField(
        default=True, help_text="Only licensed users are eligible for multi-factor authentication."
    )
    roles = models.ManyToManyField(DirectoryRole, blank=True, related_name="members")
    # Bumped to revoke every session of the user: it is part of the session auth hash.
    session_version = models.PositiveIntegerField(default=0)
    # Set with a temporary password (an admin's reset, a new account): the user must choose
    # a new password at the next sign-in, before any page opens (DESIGN §5.7).
    password_must_change = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    synced_at = models.DateTimeField(null=True, blank=True)

    objects = DirectoryUserManager()

    USERNAME_FIELD = "user_principal_name"
    EMAIL_FIELD = "mail"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("user_principal_name"), name="directory_user_upn_ci_unique"
            ),
        ]
        indexes = [
            # ORDER BY display_name, id: the MFA status report and a selection's rows. (The
            # list pages by UPPER(column), id: admin_portal migration 0002. An index on
            # user_principal_name, id served no query the unique one does not: directory
            # migration 0008.)
            models.Index(fields=["display_name", "id"], name="directory_user_name_id"),
            # Case-insensitive prefix search indexes are created per database vendor in
            # migration 0002 (an expression index on SQLite's NOCASE / PostgreSQL's UPPER).
        ]

    def __str__(self) -> str:
        return self.user_principal_name

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.account_enabled

    def get_session_auth_hash(self) -> str:
        # Django invalidates a session when this hash changes: include session_version so
        # "revoke sessions" signs the user out everywhere, like a password change does.
        return salted_hmac(
            "mfaportal.directory.DirectoryUser.get_session_auth_hash",
            f"{self.password}:{self.session_version}",
            algorithm="sha256",
        ).hexdigest()

    @property
    def role_template_ids(self) -> set[str]:
        cached = getattr(self, "_role_template_ids", None)
        if cached is None:
            cached = set(self.roles.values_list("template_id", flat=True))
            self._role_template_ids = cached
        return cached

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this person may do here, from the roles they hold (read once per object, so
        once per request for the signed-in person)."""
        return capabilities_for(self.role_template_ids)

    @property
    def beyond_authentication_administrator_reach(self) -> bool:
        return beyond_authentication_administrator_reach(self.role_template_ids)

    @property
    def holds_admin_role(self) -> bool:
        return bool(self.role_template_ids)


def holds_any_role() -> Exists:
    """For an annotation: the user holds some directory role (active, eligible or scoped)."""
    return Exists(DirectoryUser.roles.through.objects.filter(directoryuser_id=OuterRef("pk")))


def holds_role_beyond_authentication_administrator_reach() -> Exists:
    """For an annotation: ``DirectoryUser.beyond_authentication_administrator_reach`` in the
    query itself, so a list of users needs no query per user."""
    return Exists(
        DirectoryUser.roles.through.objects.filter(directoryuser_id=OuterRef("pk")).exclude(
            directoryrole__template_id__in=WITHIN_REACH_ROLE_IDS
        )
    )
