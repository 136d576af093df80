"""Secrets shown once: held sealed until the page that shows them reads them, then gone.

A view that creates a secret (an app password, a temporary password) holds it here and
answers with a redirect to the page that shows it (POST/redirect/GET). That page takes it:
the first read deletes the row, so a reload or Back shows "no longer shown" and creates
nothing. The row is AES-GCM sealed under the server key, bound to its id, reader and
purpose; an unread one expires after ``SHOW_WITHIN``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.crypto import decrypt_secret, encrypt_secret
from mfaportal.mfa.models import SecretShownOnce

SHOW_WITHIN = timedelta(minutes=10)
APP_PASSWORD = "app_password"
TEMPORARY_PASSWORD = "temporary_password"
TEMPORARY_ACCESS_PASS = "temporary_access_pass"


@dataclass(frozen=True)
class ShownSecret:
    value: str
    label: str


def _bound_to(secret_id: uuid.UUID, reader: DirectoryUser, purpose: str) -> bytes:
    return f"shown-once:{purpose}:{secret_id}:{reader.pk}".encode()


def secret_hold(*, reader: DirectoryUser, purpose: str, value: str, label: str = "") -> uuid.UUID:
    """Keep ``value`` sealed for ``reader`` to read once; returns its handle. ``label`` says
    what it is for (an app password's name) and is not secret."""
    now = timezone.now()
    SecretShownOnce.objects.filter(expires_at__lte=now).delete()
    secret_id = uuid.uuid4()
    sealed, key_id = encrypt_secret(
        value.encode(), associated_data=_bound_to(secret_id, reader, purpose)
    )
    SecretShownOnce.objects.create(
        id=secret_id,
        reader=reader,
        purpose=purpose,
        label=label[:64],
        sealed=sealed,
        key_id=key_id,
        created_at=now,
        expires_at=now + SHOW_WITHIN,
    )
    return secret_id


def secret_take(
    *, secret_id: str | uuid.UUID, reader: DirectoryUser, purpose: str
) -> ShownSecret | None:
    """The secret, the first time its reader asks; None ever after (or for anyone else).

    Two reads racing (a double-clicked link, a reload mid-load) both find the row, but only
    the one whose delete removed it shows the secret."""
    try:
        secret_id = uuid.UUID(str(secret_id))
    except ValueError:
        return None
    held = SecretShownOnce.objects.filter(
        pk=secret_id, reader=reader, purpose=purpose, expires_at__gt=timezone.now()
    ).first()
    if held is None:
        return None
    deleted, _rows = SecretShownOnce.objects.filter(pk=held.pk).delete()
    if not deleted:
        return None
    value = decrypt_secret(
        bytes(held.sealed),
        key_id=held.key_id,
        associated_data=_bound_to(secret_id, reader, purpose),
    ).decode()
    return ShownSecret(value=value, label=held.label)
