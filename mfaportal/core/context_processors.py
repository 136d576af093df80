from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from mfaportal.core.client_ip import untrusted_forwarding_note, untrusted_forwarding_seen
from mfaportal.core.modes import directory_mode
from mfaportal.core.roles import PortalRole


def portal(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = user.portal_role if user is not None and user.is_authenticated else None
    staff = role in (PortalRole.ADMIN, PortalRole.HELPDESK)
    forwarded_here = untrusted_forwarding_note(request)
    return {
        "portal_directory_mode": directory_mode(),
        "portal_tenant_name": settings.MFAPORTAL_TENANT_NAME,
        "portal_role": role,
        "portal_is_staff": staff,
        "portal_is_admin": role == PortalRole.ADMIN,
        "portal_simulators": settings.MFAPORTAL_SIMULATORS,
        # The admin pages' banner: a proxy nobody listed in MFAPORTAL_TRUSTED_PROXIES.
        "portal_untrusted_proxy": (
            (request.META.get("REMOTE_ADDR") if forwarded_here else untrusted_forwarding_seen())
            if staff
            else None
        ),
    }
