"""The rules of the MFA domain, as pure functions: DESIGN §3's state table and who may change
whom. The quick-steps pane, the services, the CSV check, the CLI and the user detail page all
ask here, so each rule is written once.

Each question answers with a reason: ``""`` when allowed, else the sentence to show.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.translation import gettext as _

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.roles import PortalRole
from mfaportal.mfa.models import MfaState


class Action(enum.StrEnum):
    """What a change does to a user."""

    STATE = "state"  # enable, enforce, disable
    REREGISTRATION = "reregistration"  # provide contact methods again
    APP_PASSWORDS = "app_passwords"  # delete all app passwords
    REMEMBERED_DEVICES = "remembered_devices"  # restore MFA on remembered devices
    SESSIONS = "sessions"  # revoke sessions
    PASSWORD = "password"  # reset to a temporary password
    FRAUD_BLOCK = "fraud_block"  # lift a fraud-report block


@dataclass(frozen=True)
class Actor:
    """Who acts. ``user_id`` None: the CLI, sync or the system (the operator is trusted)."""

    user_id: int | None
    role: PortalRole | None = None
    # The person's own security info pages (they act on their own account).
    self_service: bool = False

    @classmethod
    def of(cls, context: ChangeContext) -> Actor:
        actor = context.actor
        if actor is None:
            return cls(user_id=None)
        role = getattr(actor, "portal_role", None)
        return cls(
            user_id=actor.pk,
            role=PortalRole(role) if role else None,
            self_service=context.source == AuditSource.SELF_SERVICE,
        )


@dataclass(frozen=True)
class Target:
    """What the rules need to know about the user being changed."""

    user_id: int
    holds_admin_role: bool
    is_licensed: bool = True


def may_change(actor: Actor, target: Target, action: Action) -> str:
    """Whether ``actor`` may do ``action`` to ``target``: '' or why not.

    Global administrators may change anyone; authentication administrators (helpdesk) anyone
    who holds no admin role; everyone their own account on their own pages.
    """
    if actor.user_id is None:
        return ""
    if actor.self_service and actor.user_id == target.user_id:
        return ""
    if actor.role == PortalRole.ADMIN:
        return ""
    if actor.role == PortalRole.HELPDESK:
        if target.holds_admin_role:
            return _("Authentication administrators can't change users who hold an admin role.")
        return ""
    return _("Only administrators and helpdesk staff can change other users.")


def eligible(target: Target, requested: MfaState) -> str:
    """Whether ``target`` may be given ``requested``: '' or why not. Only licensed users are
    eligible for multi-factor authentication; anyone may be disabled."""
    if requested != MfaState.DISABLED and not target.is_licensed:
        return _("Only licensed users are eligible for multi-factor authentication.")
    return ""


def resulting_state(requested: MfaState, *, registered: bool) -> MfaState:
    """The state a request ends in: enabling a user who has already registered makes them
    Enforced (Microsoft's rule); a user who completes registration while Enabled becomes
    Enforced through the same rule."""
    if requested == MfaState.ENABLED and registered:
        return MfaState.ENFORCED
    return requested


def states_offered(current: MfaState, *, licensed: bool) -> tuple[MfaState, ...]:
    """The quick steps a user's state offers, as on Microsoft's page: Enable for a disabled
    user, Enforce and Disable for an enabled one, Disable for an enforced one (Enable and
    Enforce only for the licensed)."""
    offered: list[MfaState] = []
    if licensed and current == MfaState.DISABLED:
        offered.append(MfaState.ENABLED)
    if licensed and current == MfaState.ENABLED:
        offered.append(MfaState.ENFORCED)
    if current != MfaState.DISABLED:
        offered.append(MfaState.DISABLED)
    return tuple(offered)
