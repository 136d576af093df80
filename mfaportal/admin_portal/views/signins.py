"""The sign-in log (issue 16.5): every browser and legacy sign-in attempt, filtered by user,
result, client address and date, paged by keyset like the audit log, exported as CSV."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from mfaportal.admin_portal.forms import SignInFilterForm
from mfaportal.admin_portal.views.audit import _cursor_decode as cursor_decode
from mfaportal.admin_portal.views.common import change_context
from mfaportal.core.audit import AuditEntry, audit_record
from mfaportal.core.csv_export import csv_lines, csv_safe
from mfaportal.core.modes import graph_mode
from mfaportal.core.params import days_between
from mfaportal.core.permissions import staff_required
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import SignInEvent, SignInResult

PAGE_SIZE = 50
CSV_HEADER = ("Date (UTC)", "User", "Client", "Asked", "Result", "Failure reason", "Address")


def _cursor_encode(event: SignInEvent) -> str:
    raw = json.dumps([event.at.isoformat(), event.pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def signin_events(cleaned: dict[str, Any]) -> QuerySet[SignInEvent]:
    """The events the filters select, newest first."""
    events = SignInEvent.objects.all()
    if name := cleaned.get("user"):
        user = DirectoryUser.objects.by_upn(name).only("id").first()
        # The name as typed catches attempts at names no user holds, and deleted users.
        events = events.filter(Q(user=user) if user is not None else Q(user_label__iexact=name))
    if cleaned.get("result") in SignInResult.values:
        events = events.filter(result=cleaned["result"])
    if cleaned.get("address"):
        events = events.filter(address=cleaned["address"])
    events = days_between(
        events, field="at", first=cleaned.get("date_from"), last=cleaned.get("date_to")
    )
    return events.order_by("-at", "-id")


def _filters(request: HttpRequest) -> tuple[SignInFilterForm, dict[str, Any], dict[str, str]]:
    """The form, its cleaned values ({} when invalid) and the raw values to carry in links."""
    form = SignInFilterForm(request.GET or None)
    if not (form.is_bound and form.is_valid()):
        return form, {}, {}
    carried = {
        key: str(value) for key, value in request.GET.items() if key in form.fields and value
    }
    return form, form.cleaned_data, carried


@staff_required
@require_GET
def signin_log(request: HttpRequest) -> HttpResponse:
    form, cleaned, filters = _filters(request)
    events = signin_events(cleaned).select_related("user")
    cursor = cursor_decode(request.GET.get("after"))
    if cursor is not None:
        at, pk = cursor
        events = events.filter(at__lte=at).filter(Q(at__lt=at) | Q(id__lt=pk))
    rows = list(events[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    here = reverse("admin_portal:signins")
    next_url = ""
    if more and rows:
        next_url = here + "?" + urlencode({**filters, "after": _cursor_encode(rows[-1])})
    return render(
        request,
        "admin_portal/signins.html",
        {
            "form": form,
            "events": rows,
            "next_url": next_url,
            "first_url": here + ("?" + urlencode(filters) if filters else "") if cursor else "",
            "csv_url": reverse("admin_portal:signins_csv")
            + ("?" + urlencode(filters) if filters else ""),
            "graph_mode": graph_mode(),
            "signin_log_days": settings.MFAPORTAL_SIGNIN_LOG_DAYS,
        },
    )


def _csv_rows(events: QuerySet[SignInEvent]) -> Iterator[list[str]]:
    for event in events.iterator(chunk_size=2000):
        yield [
            event.at.astimezone(UTC).isoformat(timespec="seconds"),
            csv_safe(event.user_label),
            event.client,
            event.asked,
            event.result,
            event.reason,
            event.address or "",
        ]


@staff_required
@require_GET
def signin_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The events the filters select, every one of them, streamed as CSV."""
    _form, cleaned, filters = _filters(request)
    audit_record(
        change_context(request),
        AuditEntry("signin_log.exported", detail={"filter": filters}),
    )
    response = StreamingHttpResponse(
        csv_lines(CSV_HEADER, _csv_rows(signin_events(cleaned))),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="sign-ins-{stamp}.csv"'
    return response
