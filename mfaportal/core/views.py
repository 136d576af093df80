from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from mfaportal.core.roles import PortalRole


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each person where they belong: staff to the admin page, others to their own."""
    if not request.user.is_authenticated:
        return redirect("signin")
    if request.user.portal_role in (PortalRole.ADMIN, PortalRole.HELPDESK):
        return redirect("admin_portal:users")
    return redirect("selfservice:setup")


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
