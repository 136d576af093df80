from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mfaportal.core.permissions import staff_required


@staff_required
@require_GET
def deployment_guide(request: HttpRequest) -> HttpResponse:
    """The multi-factor auth deployment guide the users tab points to."""
    return render(request, "admin_portal/guide.html")
