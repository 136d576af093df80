from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from mfaportal.core.client_ip import untrusted_forwarding_note, untrusted_forwarding_seen
from mfaportal.core.csrf import csrf_token_for
from mfaportal.core.modes import directory_mode
from mfaportal.core.roles import Capability


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    held = user.capabilities if user is not None and user.is_authenticated else frozenset()
    staff = Capability.VIEW_ADMIN in held
    forwarded_here = untrusted_forwarding_note(request)
    return {
        # Django's own token, masked more cheaply (core.csrf); this processor runs after
        # Django's built-in one, so its value is the one pages read.
        "csrf_token": csrf_token_for(request),
        "portal_directory_mode": directory_mode(),
        "portal_tenant_name": settings.MFAPORTAL_TENANT_NAME,
        "portal_is_staff": staff,
        # What the signed-in person may do, for pages to show only that:
        # {% if portal_can.change_state %}.
        "portal_can": {capability.value: capability in held for capability in Capability},
        "portal_simulators": settings.MFAPORTAL_SIMULATORS,
        # django-htmx's error display for htmx requests, as its {% htmx_script %} adds it.
        "portal_debug": settings.DEBUG,
        # The admin pages' banner: a proxy nobody listed in MFAPORTAL_TRUSTED_PROXIES.
        "portal_untrusted_proxy": (
            (request.META.get("REMOTE_ADDR") if forwarded_here else untrusted_forwarding_seen())
            if staff
            else None
        ),
    }
