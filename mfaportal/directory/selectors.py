"""Reads of the cached tenant: the filters of the admin page, shared with the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.mfa.models import MfaState

VIEW_ALLOWED = "allowed"
VIEW_BLOCKED = "blocked"
ROLE_VIEW_PREFIX = "role:"
STATUS_ANY = "any"
SEARCH_MAX_LENGTH = 100


@dataclass(frozen=True)
class UserFilter:
    """What the admin page's View, Multi-Factor Auth status and search boxes select."""

    view: str = VIEW_ALLOWED
    status: str = STATUS_ANY
    search: str = ""

    @classmethod
    def from_params(cls, view: str | None, status: str | None, search: str | None) -> UserFilter:
        view = (view or VIEW_ALLOWED).strip()
        status = (status or STATUS_ANY).strip().lower()
        if status != STATUS_ANY:
            try:
                status = MfaState.parse(status).name.lower()
            except ValueError:
                status = STATUS_ANY
        search = " ".join((search or "").split())[:SEARCH_MAX_LENGTH]
        return cls(view=view, status=status, search=search)


def admin_views() -> list[tuple[str, str]]:
    """The View dropdown: allowed, blocked, then one entry per admin role that has members."""
    views = [(VIEW_ALLOWED, "Sign-in allowed users"), (VIEW_BLOCKED, "Sign-in blocked users")]
    roles = DirectoryRole.objects.filter(members__isnull=False).distinct().order_by("display_name")
    views += [(f"{ROLE_VIEW_PREFIX}{role.template_id}", role.view_label) for role in roles]
    return views


def users_matching(user_filter: UserFilter) -> QuerySet[DirectoryUser]:
    users = DirectoryUser.objects.all()
    view = user_filter.view
    if view == VIEW_BLOCKED:
        users = users.filter(account_enabled=False)
    elif view.startswith(ROLE_VIEW_PREFIX):
        users = users.filter(roles__template_id=view.removeprefix(ROLE_VIEW_PREFIX))
    else:
        users = users.filter(account_enabled=True)
    if user_filter.status != STATUS_ANY:
        state = MfaState.parse(user_filter.status)
        if state == MfaState.DISABLED:
            users = users.filter(Q(mfa__state=state) | Q(mfa__isnull=True))
        else:
            users = users.filter(mfa__state=state)
    if user_filter.search:
        term = user_filter.search
        users = users.filter(
            Q(display_name__istartswith=term)
            | Q(user_principal_name__istartswith=term)
            | Q(mail__istartswith=term)
        )
    return users
