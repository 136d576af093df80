"""The directory sync status panel and the Sync now button (graph mode), at /admin/sync/."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from mfaportal.core.htmx import is_htmx
from mfaportal.core.modes import graph_mode
from mfaportal.core.permissions import capability_required, staff_required
from mfaportal.core.roles import Capability
from mfaportal.entra.models import DirectorySyncState
from mfaportal.entra.selectors import outbox_summary
from mfaportal.entra.sync import KIND_LABELS, STAGE_LABELS, sync_is_running


def sync_panel_context(request: HttpRequest) -> dict[str, Any]:
    """What the panel shows; also used by the ``{% sync_status_panel %}`` tag."""
    if not graph_mode():
        return {"graph_mode": False}
    state = DirectorySyncState.load()
    running = sync_is_running()
    percent = None
    if running and state.progress_total:
        percent = min(100, round(100 * state.progress_done / state.progress_total))
    user = request.user
    requested = state.requested_at is not None and (
        state.last_started_at is None or state.requested_at > state.last_started_at
    )
    last_kind = state.last_counts.get("kind", "")
    return {
        "graph_mode": True,
        "sync": state,
        "running": running,
        "waiting_for_worker": requested and not running,
        "stage_label": STAGE_LABELS.get(state.stage, state.stage),
        "last_kind_label": KIND_LABELS.get(last_kind, last_kind),
        "percent": percent,
        "outbox": outbox_summary(),
        "can_sync": user.is_authenticated and Capability.CHANGE_SETTINGS in user.capabilities,
    }


@require_GET
@staff_required
@vary_on_headers("HX-Request")
def sync_status(request: HttpRequest) -> HttpResponse:
    if not graph_mode():
        raise Http404
    context = sync_panel_context(request)
    template = "entra/sync.html#panel" if is_htmx(request) else "entra/sync.html"
    return render(request, template, context)


@require_POST
@capability_required(Capability.VIEW_ADMIN, Capability.CHANGE_SETTINGS)
def sync_now(request: HttpRequest) -> HttpResponse:
    """Queue a sync for the task worker ("Sync now"); a full one when asked."""
    if not graph_mode():
        raise Http404
    from mfaportal.entra.tasks import directory_sync_run

    full = request.POST.get("full") == "1"
    if sync_is_running():
        messages.info(request, _("A sync is already running."))
    else:
        label = request.user.get_username()
        DirectorySyncState.load()
        DirectorySyncState.objects.filter(pk=1).update(
            requested_at=timezone.now(), requested_by=label
        )
        transaction.on_commit(lambda: directory_sync_run.enqueue(full=full, requested_by=label))
        messages.success(
            request,
            _("A full sync has been requested.") if full else _("A sync has been requested."),
        )
    return redirect("entra:sync")
