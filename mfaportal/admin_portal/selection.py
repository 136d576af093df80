"""What the admin has selected on the users tab, and which quick steps it allows.

A selection is either explicit (the ticked rows, at most a page) or "all users that match
this view" (the filter, resolved to ids only when a step is applied). The pane shows only
the steps that would do something for the selection, as on Microsoft's page: Enable for a
disabled user, Enforce and Disable for an enabled one, Disable for an enforced one, and
Manage user settings for anyone the actor may change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import QueryDict
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mfaportal.core.params import db_id
from mfaportal.core.roles import Capability
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.selectors.users import (
    STATUS_ANY,
    SelectedUser,
    UserFilter,
    users_matching_count,
    users_matching_ids,
    users_selected,
)

MAX_EXPLICIT = 200
STEPS = ("enable", "enforce", "disable", "manage")
STEP_LABELS = {
    "enable": gettext_lazy("Enable"),
    "enforce": gettext_lazy("Enforce"),
    "disable": gettext_lazy("Disable"),
    "manage": gettext_lazy("Manage user settings"),
}


class SelectionError(ValueError):
    pass


@dataclass
class Selection:
    user_filter: UserFilter
    all_matching: bool = False
    users: list[SelectedUser] = field(default_factory=list)
    count: int = 0
    # Every matching user's id, when asked for (a step about to apply to all of them).
    matching_ids: list[int] | None = None

    @property
    def ids(self) -> list[int]:
        return [user.id for user in self.users]

    @property
    def described(self) -> str:
        """How the dialogs name the selection."""
        if self.single is not None:
            return self.single.display_name
        if self.all_matching:
            return ngettext(
                "the %(count)s user that matches this view",
                "all %(count)s users that match this view",
                self.count,
            ) % {"count": number_format(self.count, force_grouping=True)}
        return ngettext(
            "the %(count)s selected user", "the %(count)s selected users", self.count
        ) % {"count": number_format(self.count, force_grouping=True)}

    @property
    def single(self) -> SelectedUser | None:
        return self.users[0] if not self.all_matching and len(self.users) == 1 else None

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The inputs that carry this selection into the next form."""
        fields = list(self.user_filter.as_params().items())
        if self.all_matching:
            fields.append(("all", "1"))
        else:
            fields += [("u", str(user_id)) for user_id in self.ids]
        return fields


def selection_from(
    data: QueryDict, *, may_select_all: bool, with_matching_ids: bool = False
) -> Selection:
    """The selection ``data`` carries. ``with_matching_ids``: for "all that match", read
    every matching id (counted as they are read) rather than only their number."""
    user_filter = UserFilter.from_params(data.get("view"), data.get("status"), data.get("q"))
    if data.get("all") == "1":
        if not may_select_all:
            raise SelectionError(
                _("Only those whose role changes users can select every matching user.")
            )
        if with_matching_ids:
            matching = users_matching_ids(user_filter)
            return Selection(
                user_filter, all_matching=True, count=len(matching), matching_ids=matching
            )
        return Selection(
            user_filter, all_matching=True, count=users_matching_count(user_filter, cap=None)
        )
    ids: list[int] = []
    for raw in data.getlist("u"):
        value = db_id(raw)  # None for what no row can have (tampered: -1, 10**30, "abc")
        if value is not None and value not in ids:
            ids.append(value)
    if len(ids) > MAX_EXPLICIT:
        raise SelectionError(
            _("Select at most %(max)d users, or select all users that match the view.")
            % {"max": MAX_EXPLICIT}
        )
    users = users_selected(ids) if ids else []
    return Selection(user_filter, users=users, count=len(users))


@dataclass
class QuickSteps:
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Of the users the actor may change: those not registered yet (the Enforce caveat).
    unregistered: int = 0
    admins: int = 0

    def allows(self, step: str) -> bool:
        return step in self.steps

    @property
    def labelled(self) -> list[tuple[str, str]]:
        return [(step, str(STEP_LABELS[step])) for step in self.steps]


STEP_FOR_STATE = {
    MfaState.ENABLED: "enable",
    MfaState.ENFORCED: "enforce",
    MfaState.DISABLED: "disable",
}


def may_select_all(actor: DirectoryUser) -> bool:
    """Whether the actor may act on every user that matches a view: only someone whose role
    changes users (the services still skip, user by user, whom they may not change)."""
    return bool(actor.capabilities & {Capability.CHANGE_STATE, Capability.MANAGE_METHODS})


def quick_steps_for(selection: Selection, actor: DirectoryUser) -> QuickSteps:
    """The steps the pane offers for these users, and the notes that say why others are not:
    the rules are ``mfaportal.mfa.policy``'s, worded here for a selection."""
    if selection.all_matching:
        return _steps_for_filter(selection, actor)
    users = selection.users
    if not users:
        return QuickSteps()
    result = QuickSteps()
    who = policy.Actor(user_id=actor.pk, capabilities=actor.capabilities)
    state_changeable = [
        user for user in users if not policy.may_change(who, _target(user), policy.Action.STATE)
    ]
    manageable = [
        user
        for user in users
        if not policy.may_change(who, _target(user), policy.Action.REREGISTRATION)
    ]
    if Capability.MANAGE_METHODS in actor.capabilities:
        _note_beyond_reach(result, selection, refused=len(users) - len(manageable))
    if state_changeable:
        offered: set[MfaState] = set()
        for user in state_changeable:
            offered.update(policy.states_offered(MfaState(user.state), licensed=user.is_licensed))
        result.steps = [STEP_FOR_STATE[state] for state in STEP_FOR_STATE if state in offered]
        _note_unlicensed(result, selection, state_changeable)
    if manageable:
        result.steps.append("manage")
    # The Enforce dialog's caveats.
    result.unregistered = sum(
        1 for user in state_changeable if user.is_licensed and not user.registered
    )
    result.admins = sum(1 for user in state_changeable if user.holds_admin_role)
    return result


def _note_beyond_reach(result: QuickSteps, selection: Selection, *, refused: int) -> None:
    if refused and selection.single:
        result.notes.append(
            _(
                "%(name)s holds a privileged admin role. Authentication administrators can't "
                "change their sign-in methods; ask a privileged authentication administrator."
            )
            % {"name": selection.users[0].display_name}
        )
    elif refused:
        result.notes.append(
            ngettext(
                "%(count)d of the selected users holds a privileged admin role and will be "
                "skipped: authentication administrators can't change them.",
                "%(count)d of the selected users hold a privileged admin role and will be "
                "skipped: authentication administrators can't change them.",
                refused,
            )
            % {"count": refused}
        )


def _note_unlicensed(
    result: QuickSteps, selection: Selection, changeable: list[SelectedUser]
) -> None:
    unlicensed = [user for user in changeable if policy.eligible(_target(user), MfaState.ENABLED)]
    if unlicensed and selection.single:
        result.notes.append(
            _(
                "Only licensed users are eligible for multi-factor authentication. "
                "%(name)s has no licence, so Enable and Enforce are not offered."
            )
            % {"name": selection.users[0].display_name}
        )
    elif unlicensed:
        result.notes.append(
            ngettext(
                "Only licensed users are eligible for multi-factor authentication: "
                "%(count)d selected user has no licence and is skipped by Enable and Enforce.",
                "Only licensed users are eligible for multi-factor authentication: "
                "%(count)d selected users have no licence and are skipped by Enable and Enforce.",
                len(unlicensed),
            )
            % {"count": len(unlicensed)}
        )


def _target(user: SelectedUser) -> policy.Target:
    return policy.Target(
        user_id=user.id,
        holds_admin_role=user.holds_admin_role,
        beyond_authentication_administrator_reach=user.beyond_authentication_administrator_reach,
        is_licensed=user.is_licensed,
    )


def _steps_for_filter(selection: Selection, actor: DirectoryUser) -> QuickSteps:
    """Every matching user: the steps follow the status filter and the actor's role, without
    reading 100k rows."""
    if not selection.count:
        return QuickSteps()
    held = actor.capabilities
    status = selection.user_filter.status
    by_status = {
        STATUS_ANY: ["enable", "enforce", "disable", "manage"],
        "disabled": ["enable", "manage"],
        "enabled": ["enforce", "disable", "manage"],
        "enforced": ["disable", "manage"],
    }
    steps = [
        step
        for step in by_status.get(status, by_status[STATUS_ANY])
        if (Capability.MANAGE_METHODS if step == "manage" else Capability.CHANGE_STATE) in held
    ]
    notes = []
    if Capability.CHANGE_STATE in held:
        notes.append(
            _(
                "Only licensed users are eligible for multi-factor authentication: Enable and "
                "Enforce skip users without a licence and list them as skipped."
            )
        )
    return QuickSteps(steps=steps, notes=notes)
