from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from mfaportal.core.audit import ChangeContext
from mfaportal.core.client_ip import client_ip
from mfaportal.core.models import AuditSource
from mfaportal.core.roles import PortalRole
from mfaportal.directory.models import DirectoryUser


def actor(request: HttpRequest) -> DirectoryUser:
    """The signed-in staff member (the role decorators have checked there is one)."""
    return cast(DirectoryUser, request.user)


def change_context(request: HttpRequest, source: AuditSource = AuditSource.PAGE) -> ChangeContext:
    return ChangeContext(actor=actor(request), source=source, ip_address=client_ip(request))


def is_admin(request: HttpRequest) -> bool:
    return actor(request).portal_role == PortalRole.ADMIN
