"""What every admin view needs: who acts, and the context their changes are audited with."""

from __future__ import annotations

from django.http import HttpRequest

from mfaportal.core.audit import ChangeContext
from mfaportal.core.client_ip import client_ip
from mfaportal.core.models import AuditSource
from mfaportal.core.roles import Capability
from mfaportal.directory.selectors import signed_in_user


def change_context(request: HttpRequest, source: AuditSource = AuditSource.PAGE) -> ChangeContext:
    return ChangeContext(
        actor=signed_in_user(request), source=source, ip_address=client_ip(request)
    )


def can(request: HttpRequest, capability: Capability) -> bool:
    """Whether the signed-in person's roles give ``capability`` (read once per request)."""
    return capability in signed_in_user(request).capabilities
