from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mfaportal.core.permissions import staff_required
from mfaportal.directory.models import DirectoryUser

PAGE_SIZE = 50


@staff_required
def users(request: HttpRequest) -> HttpResponse:
    rows = (
        DirectoryUser.objects.filter(account_enabled=True)
        .select_related("mfa")
        .order_by("display_name", "id")[:PAGE_SIZE]
    )
    return render(request, "admin_portal/users.html", {"rows": rows})
