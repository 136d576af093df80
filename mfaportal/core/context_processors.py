from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from mfaportal.core.modes import directory_mode
from mfaportal.core.roles import Capability


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    held = user.capabilities if user is not None and user.is_authenticated else frozenset()
    return {
        "portal_directory_mode": directory_mode(),
        "portal_tenant_name": settings.MFAPORTAL_TENANT_NAME,
        "portal_is_staff": Capability.VIEW_ADMIN in held,
        # What the signed-in person may do, for pages to show only that:
        # {% if portal_can.change_state %}.
        "portal_can": {capability.value: capability in held for capability in Capability},
        "portal_simulators": settings.MFAPORTAL_SIMULATORS,
    }
