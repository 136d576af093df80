from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from mfaportal.core.modes import directory_mode
from mfaportal.core.roles import PortalRole


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = user.portal_role if user is not None and user.is_authenticated else None
    return {
        "portal_directory_mode": directory_mode(),
        "portal_tenant_name": settings.MFAPORTAL_TENANT_NAME,
        "portal_role": role,
        "portal_is_staff": role in (PortalRole.ADMIN, PortalRole.HELPDESK),
        "portal_is_admin": role == PortalRole.ADMIN,
        "portal_simulators": settings.MFAPORTAL_SIMULATORS,
    }
