"""The audit log (DESIGN §4.5): every change, filtered by who, whom, what and when."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from mfaportal.admin_portal.forms import KNOWN_ACTIONS, AuditFilterForm
from mfaportal.core.models import AuditEvent
from mfaportal.core.params import aware_moment, days_between, db_id
from mfaportal.core.permissions import staff_required
from mfaportal.directory.models import DirectoryUser

PAGE_SIZE = 50


def _cursor_encode(event: AuditEvent) -> str:
    raw = json.dumps([event.at.isoformat(), event.pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_decode(token: str | None) -> tuple[datetime, int] | None:
    """The cursor in a link, or None for anything that isn't one (a tampered URL: the
    first page then)."""
    if not token or len(token) > 200:
        return None
    try:
        at, pk = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None
    moment, pk = aware_moment(at), db_id(pk)
    if moment is None or pk is None:
        return None
    return moment, pk


def _person(field: str, value: str) -> Q:
    """Events by (or about) the user with this user name; labels catch deleted users and
    actors that are not users, such as "(CLI)"."""
    user = DirectoryUser.objects.by_upn(value).only("id").first()
    if user is not None:
        return Q(**{field: user})
    return Q(**{f"{field}_label": value})


def audit_events(cleaned: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if cleaned.get("actor"):
        events = events.filter(_person("actor", cleaned["actor"]))
    if cleaned.get("target"):
        events = events.filter(_person("target", cleaned["target"]))
    action = cleaned.get("action") or ""
    if action in dict(KNOWN_ACTIONS):
        events = events.filter(action=action)
    elif action:
        events = events.filter(action__startswith=action)
    if cleaned.get("source"):
        events = events.filter(source=cleaned["source"])
    return days_between(
        events, field="at", first=cleaned.get("date_from"), last=cleaned.get("date_to")
    )


@staff_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    cleaned: dict[str, Any] = {}
    if form.is_bound and form.is_valid():
        cleaned = form.cleaned_data
    events = audit_events(cleaned).order_by("-at", "-id")
    cursor = _cursor_decode(request.GET.get("after"))
    if cursor is not None:
        at, pk = cursor
        events = events.filter(at__lte=at).filter(Q(at__lt=at) | Q(id__lt=pk))
    rows = list(events[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    filters = {
        key: value
        for key, value in request.GET.items()
        if key in form.fields and value and form.is_bound and form.is_valid()
    }
    next_url = ""
    if more and rows:
        next_url = (
            reverse("admin_portal:audit")
            + "?"
            + urlencode({**filters, "after": _cursor_encode(rows[-1])})
        )
    return render(
        request,
        "admin_portal/audit.html",
        {
            "form": form,
            "events": rows,
            "next_url": next_url,
            "first_url": reverse("admin_portal:audit")
            + ("?" + urlencode(filters) if filters else "")
            if cursor
            else "",
            "known_actions": KNOWN_ACTIONS,
        },
    )
