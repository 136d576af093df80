"""Active users (DESIGN §4.0): the way into the MFA page that the source articles describe
(seed 000: *Users → Active users → click the user → Manage multi-factor authentication*).

Every user of the directory, searched and keyset-paged exactly as the users tab is
(``listing.listing_read``); a click on a name opens the user's pane, whose *Manage
multi-factor authentication* (under *More settings*) opens the users tab with that user
selected. Without JavaScript the name is a link to this page with the pane open; with htmx
only the pane is swapped in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from mfaportal.admin_portal.views.listing import listing_read, url_with
from mfaportal.core.htmx import HtmxHttpRequest
from mfaportal.core.permissions import staff_required
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.selectors.users import (
    VIEW_ALL,
    VIEW_ALLOWED,
    VIEW_BLOCKED,
    UserFilter,
    UserPage,
)

PANE_TARGET = "user-pane"
RESULTS_TARGET = "active-results"


@dataclass(frozen=True)
class ActiveRow:
    """One row, ready to print (values only: no URL reversing or translation per row)."""

    display_name: str
    user_principal_name: str
    licence: str
    blocked_tag: str  # "Sign-in blocked", or "" for a user who may sign in
    select_url: str
    selected: bool


@dataclass(frozen=True)
class ChosenUser:
    """The user whose pane is open, and where the pane's links go."""

    display_name: str
    user_principal_name: str
    account_enabled: bool
    is_licensed: bool
    manage_mfa_url: str
    detail_url: str


def _rows(page: UserPage, this_url: str, chosen: uuid.UUID | None) -> list[ActiveRow]:
    joiner = "&" if "?" in this_url else "?"
    licensed, unlicensed, blocked = _("Licensed"), _("Unlicensed"), _("Sign-in blocked")
    return [
        ActiveRow(
            display_name=row.display_name,
            user_principal_name=row.user_principal_name,
            licence=licensed if row.is_licensed else unlicensed,
            blocked_tag="" if row.account_enabled else blocked,
            select_url=f"{this_url}{joiner}user={row.object_id}",
            selected=row.object_id == chosen,
        )
        for row in page.rows
    ]


def _chosen_id(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.GET.get("user", ""))
    except ValueError:
        return None


def _chosen(object_id: uuid.UUID | None) -> ChosenUser | None:
    if object_id is None:
        return None
    user = (
        DirectoryUser.objects.filter(object_id=object_id)
        .only(
            "id",
            "object_id",
            "display_name",
            "user_principal_name",
            "account_enabled",
            "is_licensed",
        )
        .first()
    )
    if user is None:
        return None
    # The users tab lists the user in the view they belong to, found by their user name.
    view = VIEW_ALLOWED if user.account_enabled else VIEW_BLOCKED
    params = UserFilter(view=view, search=user.user_principal_name).as_params()
    return ChosenUser(
        display_name=user.display_name,
        user_principal_name=user.user_principal_name,
        account_enabled=user.account_enabled,
        is_licensed=user.is_licensed,
        manage_mfa_url=url_with("admin_portal:users", {**params, "u": user.pk}),
        detail_url=reverse("admin_portal:user_detail", args=[user.object_id]),
    )


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def active_users(request: HtmxHttpRequest) -> HttpResponse:
    chosen_id = _chosen_id(request)
    htmx = request.htmx
    swap = htmx.target if htmx and not htmx.history_restore_request else None
    context: dict[str, Any] = {"pane_target": PANE_TARGET, "results_target": RESULTS_TARGET}
    if swap != PANE_TARGET:
        user_filter = UserFilter.from_params(VIEW_ALL, None, request.GET.get("q"))
        listing = listing_read(
            request,
            url_name="admin_portal:active_users",
            user_filter=user_filter,
            params={"q": user_filter.search},
        )
        context.update(listing.context())
        context["filter"] = user_filter
        context["rows"] = _rows(listing.page, listing.this_url, chosen_id)
        if swap == RESULTS_TARGET:
            return render(request, "admin_portal/active_users.html#results", context)
    context["chosen"] = _chosen(chosen_id)
    if swap == PANE_TARGET:
        return render(request, "admin_portal/active_users.html#pane", context)
    return render(request, "admin_portal/active_users.html", context)
