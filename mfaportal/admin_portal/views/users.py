"""The users tab: filters, the list, the selection pane, the quick-step dialogs, the report."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from mfaportal.admin_portal.backends import RECENT_JOBS_SINCE, split_joined
from mfaportal.admin_portal.forms import ManageUserSettingsForm
from mfaportal.admin_portal.jobs import (
    UserSettingsParams,
    job_start,
    state_job_create,
    user_settings_job_create,
)
from mfaportal.admin_portal.models import BulkJob
from mfaportal.admin_portal.selection import (
    STEPS,
    Selection,
    SelectionError,
    may_select_all,
    quick_steps_for,
    selection_from,
)
from mfaportal.admin_portal.views.common import change_context
from mfaportal.admin_portal.views.jobs import job_context, job_shown
from mfaportal.admin_portal.views.listing import listing_read, url_with
from mfaportal.core.audit import AuditEntry, audit_record
from mfaportal.core.client_ip import client_ip
from mfaportal.core.htmx import (
    JOBS_CHANGED,
    USERS_CHANGED,
    HtmxHttpRequest,
    is_htmx,
    trigger,
)
from mfaportal.core.params import db_id
from mfaportal.core.permissions import staff_required
from mfaportal.core.reversing import reverse_plain
from mfaportal.core.roles import Capability
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.reports import report_csv_lines
from mfaportal.mfa.selectors.users import (
    COUNT_CAP,
    STATUS_ANY,
    VIEW_ALLOWED,
    VIEW_BLOCKED,
    UserFilter,
    UserPage,
    admin_views,
    users_matching,
    users_matching_count,
    users_selected,
)

STATUS_CHOICES = [
    (STATUS_ANY, gettext_lazy("Any")),
    ("enabled", gettext_lazy("Enabled")),
    ("enforced", gettext_lazy("Enforced")),
    ("disabled", gettext_lazy("Disabled")),
]


@lru_cache(maxsize=16)
def _status_choices(language: str | None) -> tuple[tuple[str, str], ...]:
    """The status dropdown in ``language``, as the fixed list the options tag keeps."""
    return tuple((value, str(label)) for value, label in STATUS_CHOICES)


# The View dropdown's fixed entries, in the reader's language (role names stay Microsoft's).
VIEW_LABELS = {
    VIEW_ALLOWED: gettext_lazy("Sign-in allowed users"),
    VIEW_BLOCKED: gettext_lazy("Sign-in blocked users"),
}


def _selected_ids(request: HttpRequest) -> set[int]:
    selected = set()
    for raw in request.GET.getlist("u")[:200]:
        if (user_id := db_id(raw)) is not None:
            selected.add(user_id)
    return selected


@dataclass(frozen=True)
class RowView:
    """One table row, ready to print: the list renders 200 of these, so the template only
    writes values out (no URL reversing or translation per row)."""

    id: int
    detail_url: str
    display_name: str
    user_principal_name: str
    state_label: str
    state_class: str
    is_licensed: bool
    checked: bool
    select_label: str


_ZERO_UUID = uuid.UUID(int=0)


@lru_cache(maxsize=16)
def _row_words(language: str | None) -> tuple[dict[int, str], str]:
    """The rows' state labels and their checkbox's label, in ``language``."""
    return {state.value: str(state.label) for state in MfaState}, _("Select %(name)s")


def _row_views(page: UserPage, selected: set[int], all_matching: bool) -> list[RowView]:
    if not page.rows:
        return []
    detail_prefix = reverse_plain("admin_portal:user_detail", args=(_ZERO_UUID,)).replace(
        f"{_ZERO_UUID}/", ""
    )
    labels, select = _row_words(get_language())
    return [
        RowView(
            id=row.id,
            detail_url=f"{detail_prefix}{row.object_id}/",
            display_name=row.display_name,
            user_principal_name=row.user_principal_name,
            state_label=labels[row.state],
            state_class=f"state-{row.state_name}",
            is_licensed=row.is_licensed,
            checked=all_matching or row.id in selected,
            select_label=select % {"name": row.display_name},
        )
        for row in page.rows
    ]


def _users_context(request: HttpRequest) -> dict[str, Any]:
    user_filter = UserFilter.from_params(
        request.GET.get("view"), request.GET.get("status"), request.GET.get("q")
    )
    listing = listing_read(
        request,
        url_name="admin_portal:users",
        user_filter=user_filter,
        params=user_filter.as_params(),
    )
    select_all = may_select_all(signed_in_user(request))
    selected = _selected_ids(request)
    all_matching = select_all and request.GET.get("all") == "1"
    return {
        **listing.context(),
        "filter": user_filter,
        "rows": _row_views(listing.page, selected, all_matching),
        "status_choices": _status_choices(get_language()),
        "all_matching": all_matching,
        "count_url": url_with("admin_portal:users_count", user_filter.as_params()),
        "report_url": url_with("admin_portal:users_report", user_filter.as_params()),
        "may_select_all": select_all,
    }


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def users(request: HtmxHttpRequest) -> HttpResponse:
    context = _users_context(request)
    htmx = request.htmx
    if htmx and not htmx.history_restore_request and htmx.target == "results":
        return render(request, "admin_portal/users.html#results", context)
    # Only the whole page draws the View dropdown and the background updates.
    # The signed-in admin's one query (admin_portal.backends) says which roles somebody holds
    # and whether this admin has background updates: no query for either when it can.
    admin = signed_in_user(request)
    held = split_joined(admin.held_role_ids) if hasattr(admin, "held_role_ids") else None
    views, values = _view_choices(admin_views(held), get_language())
    context["view_choices"] = views
    context["unknown_view"] = context["filter"].view not in values
    context["recent_jobs"] = (
        _recent_jobs(request) if getattr(admin, "has_recent_jobs", True) else []
    )
    context.update(_pane_context(context["filter"], context["rows"], request))
    return render(request, "admin_portal/users.html", context)


@lru_cache(maxsize=64)
def _view_choices(
    views: tuple[tuple[str, str], ...], language: str | None
) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """The View dropdown in ``language`` (its fixed entries translated, role names as
    Microsoft's), as the fixed list the options tag keeps, and the values it offers."""
    labelled = tuple((value, str(VIEW_LABELS.get(value, label))) for value, label in views)
    return labelled, frozenset(value for value, _label in labelled)


def _pane_context(
    user_filter: UserFilter, rows: list[RowView], request: HttpRequest
) -> dict[str, Any]:
    """The pane for the rows the address ticks (``?u=ID``, as Active users' *Manage
    multi-factor authentication* links here): drawn with the page, as if the admin had ticked
    them. Only rows on this page count, so the pane never names a user the list doesn't show."""
    ticked = [row.id for row in rows if row.checked]
    if not ticked or request.GET.get("all") == "1":
        return {"selection": None}
    users = users_selected(ticked)
    selection = Selection(user_filter, users=users, count=len(users))
    return {
        "selection": selection,
        "quick_steps": quick_steps_for(selection, signed_in_user(request)),
    }


def _recent_jobs(request: HttpRequest) -> list[BulkJob]:
    """The signed-in admin's background updates of the last day, so they can come back."""
    since = timezone.now() - RECENT_JOBS_SINCE
    return list(
        # Small steps finished inside their request: only background work is listed.
        BulkJob.objects.filter(
            created_by=signed_in_user(request), created_at__gte=since, background=True
        ).only(
            "id",
            "kind",
            "status",
            "params",
            "created_at",
            "total",
            "done",
            "skipped",
            "failed",
        )[:5]
    )


@staff_required
@require_GET
def recent_jobs(request: HttpRequest) -> HttpResponse:
    return render(
        request, "admin_portal/users.html#recent-jobs", {"recent_jobs": _recent_jobs(request)}
    )


@staff_required
@require_GET
def users_count(request: HttpRequest) -> HttpResponse:
    """The banner's "Select all N users that match this view", counted only when asked and
    never past COUNT_CAP."""
    user_filter = UserFilter.from_params(
        request.GET.get("view"), request.GET.get("status"), request.GET.get("q")
    )
    count = users_matching_count(user_filter, cap=COUNT_CAP)
    return render(
        request,
        "admin_portal/users.html#select-all-link",
        {"matching_count": count, "count_capped": count > COUNT_CAP, "count_cap": COUNT_CAP},
    )


def _selection_or_400(
    request: HttpRequest, data: Any, *, with_matching_ids: bool = False
) -> Selection | HttpResponse:
    select_all = may_select_all(signed_in_user(request))
    try:
        return selection_from(data, may_select_all=select_all, with_matching_ids=with_matching_ids)
    except SelectionError as error:
        if data.get("all") == "1" and not select_all:
            raise PermissionDenied from error
        return HttpResponseBadRequest(str(error))


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def steps_pane(request: HttpRequest) -> HttpResponse:
    """The right-hand pane for a selection (a fragment for htmx, a page without JS)."""
    selection = _selection_or_400(request, request.GET)
    if isinstance(selection, HttpResponse):
        return selection
    context = {
        "selection": selection,
        "quick_steps": quick_steps_for(selection, signed_in_user(request)),
        "users_url": url_with("admin_portal:users", selection.user_filter.as_params()),
    }
    if is_htmx(request):
        return render(request, "admin_portal/users.html#pane", context)
    return render(request, "admin_portal/steps_page.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def step(request: HttpRequest, step: str) -> HttpResponse:
    """A quick-step dialog (GET) and its confirmation (POST)."""
    if step not in STEPS:
        return HttpResponseBadRequest(_("Unknown quick step."))
    needed = Capability.MANAGE_METHODS if step == "manage" else Capability.CHANGE_STATE
    if needed not in signed_in_user(request).capabilities:
        raise PermissionDenied
    data = request.POST if request.method == "POST" else request.GET
    # A step applied to all that match reads their ids once (not a count, then the ids).
    selection = _selection_or_400(request, data, with_matching_ids=request.method == "POST")
    if isinstance(selection, HttpResponse):
        return selection
    quick_steps = quick_steps_for(selection, signed_in_user(request))
    form = ManageUserSettingsForm(request.POST if request.method == "POST" else None)
    htmx = is_htmx(request)
    context: dict[str, Any] = {
        "step": step,
        "selection": selection,
        "quick_steps": quick_steps,
        "form": form,
        "users_url": url_with("admin_portal:users", selection.user_filter.as_params()),
        "setup_url": request.build_absolute_uri(reverse("selfservice:setup")),
        "as_page": not htmx,
    }
    if not selection.count:
        context["error"] = _("Select one or more users first.")
    if request.method == "POST" and selection.count:
        if step == "manage" and not form.is_valid():
            return _render_dialog(request, context, htmx)
        ids = selection.matching_ids if selection.matching_ids is not None else selection.ids
        if step == "manage":
            job = user_settings_job_create(
                options=UserSettingsParams(**form.cleaned_data),
                user_ids=ids,
                actor=signed_in_user(request),
                ip_address=client_ip(request),
            )
        else:
            job = state_job_create(
                step=step,
                user_ids=ids,
                actor=signed_in_user(request),
                ip_address=client_ip(request),
            )
        finished = job_start(job)
        if not htmx:
            return redirect("admin_portal:job", job_id=job.pk)
        shown = job_shown(job.pk)
        assert shown is not None  # created above; jobs are not deleted while they run
        response = render(
            request, "admin_portal/job.html#job", {**job_context(shown), "in_dialog": True}
        )
        return trigger(response, USERS_CHANGED if finished else JOBS_CHANGED)
    return _render_dialog(request, context, htmx)


def _render_dialog(request: HttpRequest, context: dict[str, Any], htmx: bool) -> HttpResponse:
    if htmx:
        return render(request, "admin_portal/dialogs.html#dialog", context)
    return render(request, "admin_portal/dialogs.html", context)


@staff_required
@require_GET
def users_report(request: HttpRequest) -> StreamingHttpResponse:
    """The MFA status report of every user matching the current view, streamed as CSV."""
    user_filter = UserFilter.from_params(
        request.GET.get("view"), request.GET.get("status"), request.GET.get("q")
    )
    audit_record(
        change_context(request),
        AuditEntry("report.exported", detail={"filter": user_filter.as_params()}),
    )
    response = StreamingHttpResponse(
        report_csv_lines(users_matching(user_filter)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="mfa-status-report-{stamp}.csv"'
    return response
