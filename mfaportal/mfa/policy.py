"""The rules of the MFA domain, as pure functions: DESIGN §3's state table and who may change
whom. The quick-steps pane, the services, the CSV check, the CLI and the user detail page all
ask here, so each rule is written once.

Each question answers with a reason: ``""`` when allowed, else the sentence to show.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, fields

from django.utils.translation import gettext as _

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.roles import Capability
from mfaportal.directory.models import DirectoryUser
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
    TEMPORARY_ACCESS_PASS = "temporary_access_pass"  # issue a Temporary Access Pass
    HARDWARE_TOKENS = "hardware_tokens"  # assign, activate, deactivate a hardware OATH token


@dataclass(frozen=True)
class Actor:
    """Who acts. ``user_id`` None: the CLI, sync or the system (the operator is trusted)."""

    user_id: int | None
    capabilities: frozenset[Capability] = frozenset()
    # The person's own security info pages (they act on their own account).
    self_service: bool = False

    @classmethod
    def of(cls, context: ChangeContext) -> Actor:
        actor = context.actor
        if actor is None:
            return cls(user_id=None)
        return cls(
            user_id=actor.pk,
            capabilities=getattr(actor, "capabilities", frozenset()),
            self_service=context.source == AuditSource.SELF_SERVICE,
        )


@dataclass(frozen=True)
class Target:
    """What the rules need to know about the user being changed."""

    user_id: int
    holds_admin_role: bool
    # Holds a role (active, eligible or scoped) outside what Microsoft lets an Authentication
    # Administrator act on (``core.roles.beyond_authentication_administrator_reach``).
    beyond_authentication_administrator_reach: bool
    is_licensed: bool = True

    @classmethod
    def of(cls, user: DirectoryUser) -> Target:
        return cls(
            user_id=user.pk,
            holds_admin_role=user.holds_admin_role,
            beyond_authentication_administrator_reach=user.beyond_authentication_administrator_reach,
            is_licensed=user.is_licensed,
        )


def may_change(actor: Actor, target: Target, action: Action) -> str:
    """Whether ``actor`` may do ``action`` to ``target``: '' or why not.

    DESIGN §1: the per-user MFA state needs Global or Authentication Policy Administrator;
    methods, sessions and passwords need Privileged Authentication Administrator (anyone) or
    Authentication Administrator (only users within its reach); everyone may change their
    own account on their own pages; the CLI and sync anything.
    """
    if actor.user_id is None:
        return ""
    if actor.self_service and actor.user_id == target.user_id:
        return ""
    held = actor.capabilities
    if action == Action.STATE:
        if Capability.CHANGE_STATE in held:
            return ""
        return _(
            "Only global administrators and authentication policy administrators can change "
            "a user's multi-factor authentication state."
        )
    if Capability.MANAGE_METHODS_OF_PRIVILEGED in held:
        return ""
    if Capability.MANAGE_METHODS in held:
        if target.beyond_authentication_administrator_reach:
            return _(
                "Authentication administrators can't change users who hold a privileged "
                "admin role; ask a privileged authentication administrator."
            )
        return ""
    return _(
        "Only global administrators and (privileged) authentication administrators can "
        "change another user's sign-in methods, sessions or password."
    )


def may_change_settings(actor: Actor) -> str:
    """Whether ``actor`` may change the service settings: '' or why not (Global and
    Authentication Policy Administrators; the CLI)."""
    if actor.user_id is None or Capability.CHANGE_SETTINGS in actor.capabilities:
        return ""
    return _(
        "Only global administrators and authentication policy administrators can change the "
        "service settings."
    )


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


@dataclass(frozen=True)
class Traits:
    """All the rules of a state change know of a user (``Target`` and registration), as
    booleans: a set-based change asks the database which users have which traits."""

    is_actor: bool = False
    holds_admin_role: bool = False
    beyond_authentication_administrator_reach: bool = False
    is_licensed: bool = False
    registered: bool = False

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))


# Stands for "any user but the actor" in a ``Target`` built from traits (ids are positive).
_SOMEONE_ELSE = -1


@dataclass(frozen=True)
class StateDecision:
    """What a state change does to a user of some traits: refused (``refusal``, the reason
    shown), or the state the user ends in."""

    refusal: str
    state: MfaState


def state_decisions(actor: Actor, requested: MfaState) -> dict[Traits, StateDecision]:
    """``may_change``, ``eligible`` and ``resulting_state`` answered for every combination of
    traits, as one table: a change applied by the database looks each user up in it, so the
    rules stay written once, here, and are asked a few dozen times however many users."""
    table = {}
    for values in itertools.product((False, True), repeat=len(Traits.names())):
        traits = Traits(*values)
        target = Target(
            user_id=actor.user_id if traits.is_actor and actor.user_id else _SOMEONE_ELSE,
            holds_admin_role=traits.holds_admin_role,
            beyond_authentication_administrator_reach=(
                traits.beyond_authentication_administrator_reach
            ),
            is_licensed=traits.is_licensed,
        )
        refusal = may_change(actor, target, Action.STATE) or eligible(target, requested)
        table[traits] = StateDecision(
            refusal, resulting_state(requested, registered=traits.registered)
        )
    return table


def traits_that_matter(table: dict[Traits, StateDecision]) -> tuple[str, ...]:
    """The traits whose value changes some decision of ``table``: only these need asking."""
    mattering = []
    for name in Traits.names():
        for traits, decision in table.items():
            flipped = Traits(**{**vars(traits), name: not getattr(traits, name)})
            if table[flipped] != decision:
                mattering.append(name)
                break
    return tuple(mattering)
