"""Changes to a directory user's own account: sessions and password (local mode keeps the
password; in graph mode Entra ID does). The only code that writes these columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser


def sessions_end(*, user_ids: Sequence[int]) -> None:
    """Sign the users out of every portal session: the session version is part of the
    session auth hash, so every session made before no longer validates."""
    for chunk in chunked(user_ids):
        DirectoryUser.objects.filter(pk__in=chunk).update(session_version=F("session_version") + 1)


def password_set(*, user: DirectoryUser, password: str, must_change: bool) -> None:
    """Store a new password (hashed). ``must_change``: it is temporary, to be replaced at
    the next sign-in. ``user`` is updated in place too."""
    user.set_password(password)
    user.password_must_change = must_change
    DirectoryUser.objects.filter(pk=user.pk).update(
        password=user.password, password_must_change=must_change
    )


def password_verified_mark(*, user: DirectoryUser, at: datetime | None = None) -> None:
    """The person just proved their password (the step-up before method changes)."""
    user.password_verified_at = at or timezone.now()
    DirectoryUser.objects.filter(pk=user.pk).update(password_verified_at=user.password_verified_at)
