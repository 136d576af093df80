from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from mfaportal.core.roles import Capability


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each person where they belong: staff to the admin page, others to their own."""
    if not request.user.is_authenticated:
        return redirect("signin")
    if Capability.VIEW_ADMIN in request.user.capabilities:
        return redirect("admin_portal:users")
    return redirect("selfservice:setup")


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page names: send them to the icon among
    the static files (whitenoise serves it in production, with its hashed name)."""
    response = redirect(static("favicon.ico"))
    patch_cache_control(response, public=True, max_age=86400)
    return response


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Never touches the database."""
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers and every migration is applied."""
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    if pending:
        return JsonResponse(
            {"status": "unavailable", "database": "migrations pending", "pending": len(pending)},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok"})
