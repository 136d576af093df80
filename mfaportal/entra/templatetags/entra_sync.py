"""``{% load entra_sync %}{% sync_status_panel %}``: the sync panel inside any staff page
(renders nothing in local mode)."""

from __future__ import annotations

from typing import Any

from django import template

from mfaportal.entra.views import sync_panel_context

register = template.Library()


@register.inclusion_tag("entra/_sync_panel.html", takes_context=True)
def sync_status_panel(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    return {
        **sync_panel_context(request),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
