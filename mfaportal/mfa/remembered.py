""" "Don't ask again for N days": a random token in a cookie, its keyed hash in the database,
bound to one user and cut off by *restore* (``remember_devices_not_issued_before``)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.utils import timezone

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.crypto import keyed_hash
from mfaportal.mfa.models import RememberedDevice, ServiceSettings, UserMfa

PURPOSE = "remembered-device"


def remembered_device_cookie_name(user: DirectoryUser) -> str:
    """One cookie per user, so people sharing a browser don't overwrite each other's."""
    return "mfa_trust_" + keyed_hash(str(user.object_id), purpose="device-cookie-name")[:12]


def remembered_device_issue(*, user: DirectoryUser, days: int, label: str = "") -> str:
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    RememberedDevice.objects.create(
        user=user,
        digest=keyed_hash(token, purpose=PURPOSE),
        label=label[:200],
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    return token


def remembered_device_valid(
    *, user: DirectoryUser, token: str, service: ServiceSettings | None = None
) -> bool:
    """The token was issued to this user, has not expired, was issued after the last
    restore, and the admin still allows remembering devices."""
    if not token:
        return False
    service = service or ServiceSettings.load()
    if not service.remember_devices_allowed:
        return False
    now = timezone.now()
    device = RememberedDevice.objects.filter(
        digest=keyed_hash(token, purpose=PURPOSE), user=user, expires_at__gt=now
    ).first()
    if device is None:
        return False
    not_before = (
        UserMfa.objects.filter(user=user)
        .values_list("remember_devices_not_issued_before", flat=True)
        .first()
    )
    if not_before is not None and device.created_at <= not_before:
        return False
    RememberedDevice.objects.filter(pk=device.pk).update(last_used_at=now)
    return True
