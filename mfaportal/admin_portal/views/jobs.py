"""A bulk step's progress and result: the page the admin can leave and come back to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from mfaportal.admin_portal.jobs import (
    PROBLEM_OUTCOMES,
    job_enqueue,
    job_is_stalled,
    job_kind,
    job_results_csv_lines,
)
from mfaportal.admin_portal.models import BulkJob, BulkJobRow
from mfaportal.core.htmx import USERS_CHANGED, HtmxHttpRequest, trigger
from mfaportal.core.permissions import staff_required
from mfaportal.core.roles import Capability
from mfaportal.directory.selectors import signed_in_user

PROBLEMS_SHOWN = 50


# What resuming a job of each kind needs: what starting it needed.
RESUME_NEEDS = {
    BulkJob.Kind.STATE: Capability.CHANGE_STATE,
    BulkJob.Kind.BULK_UPDATE: Capability.CHANGE_STATE,
    BulkJob.Kind.USER_SETTINGS: Capability.MANAGE_METHODS,
}


def job_shown(job_id: uuid.UUID) -> BulkJob | None:
    """A job as its pages show it: without its list of ids (97k of them for a select-all step
    at 100k users, read by the job alone) or its file's rows."""
    return (
        BulkJob.objects.filter(pk=job_id)
        .select_related("upload")
        .defer("user_ids", "upload__rows")
        .first()
    )


def _job_for(request: HttpRequest, job_id: uuid.UUID) -> BulkJob:
    """The job: every admin reads every job (readers included)."""
    job = job_shown(job_id)
    if job is None:
        raise Http404
    return job


@dataclass
class ProblemGroup:
    """Users not updated for one reason: the dialog lists the reason once, then the users."""

    outcome: str
    reason: str
    rows: list[BulkJobRow] = field(default_factory=list)


def rows_became_enforced(job: BulkJob) -> QuerySet[BulkJobRow]:
    """The rows updated with a word on what became of them: only Enable on a user already
    registered, which made them Enforced (mfa.services.state), says something. ``> ''``
    rather than ``<> ''``: the index of the rows with a reason (``bulkjobrow_job_reason``)
    serves the range, so the dialog does not read each changed row of the job (issue 15)."""
    return job.rows.filter(outcome=BulkJobRow.Outcome.CHANGED, reason__gt="")


def job_context(job: BulkJob) -> dict[str, Any]:
    problems = list(
        job.rows.filter(outcome__in=PROBLEM_OUTCOMES).order_by("line", "id")[:PROBLEMS_SHOWN]
    )
    groups: dict[tuple[str, str], ProblemGroup] = {}
    for row in problems:
        key = (row.outcome, row.reason)
        if key not in groups:
            groups[key] = ProblemGroup(str(row.get_outcome_display()), row.reason)
        groups[key].rows.append(row)
    enforced = rows_became_enforced(job)
    became_enforced = list(enforced.order_by("line", "id")[:PROBLEMS_SHOWN]) if job.finished else []
    return {
        "job": job,
        "notes": job_kind(job).notes(job) if job.finished else [],
        "problems": problems,
        "problem_groups": list(groups.values()),
        "more_problems": max(0, job.problems + _invalid(job) - len(problems)),
        "became_enforced": became_enforced,
        "more_became_enforced": (
            max(0, enforced.count() - len(became_enforced))
            if len(became_enforced) == PROBLEMS_SHOWN
            else 0
        ),
        "stalled": job_is_stalled(job),
    }


def _invalid(job: BulkJob) -> int:
    return job.upload.error_count if job.upload is not None else 0


@staff_required
@require_GET
@vary_on_headers("HX-Request")
def job(request: HtmxHttpRequest, job_id: uuid.UUID) -> HttpResponse:
    found = _job_for(request, job_id)
    context = job_context(found)
    htmx = request.htmx
    if htmx and not htmx.history_restore_request:
        context["in_dialog"] = request.GET.get("in_dialog") == "1"
        response = render(request, "admin_portal/job.html#job", context)
        if found.finished and request.GET.get("polling") == "1":
            # The list behind the dialog shows the new states once the job is done.
            trigger(response, USERS_CHANGED)
        return response
    return render(request, "admin_portal/job.html", context)


@staff_required
@require_GET
def job_results(request: HttpRequest, job_id: uuid.UUID) -> StreamingHttpResponse:
    found = _job_for(request, job_id)
    response = StreamingHttpResponse(
        job_results_csv_lines(found), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="mfa-update-results-{found.created_at:%Y%m%d-%H%M}.csv"'
    )
    return response


@staff_required
@require_POST
def job_resume(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Queue an interrupted job again; it carries on after its last finished chunk, with the
    rights of whoever started it (the services ask the policy for its creator)."""
    found = _job_for(request, job_id)
    if RESUME_NEEDS[BulkJob.Kind(found.kind)] not in signed_in_user(request).capabilities:
        raise PermissionDenied
    if job_is_stalled(found):
        BulkJob.objects.filter(pk=found.pk).update(heartbeat_at=timezone.now())
        job_enqueue(found)
    return redirect("admin_portal:job", job_id=found.pk)
