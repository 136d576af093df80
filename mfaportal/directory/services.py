"""Changes to a directory user's own account: sessions and password (local mode keeps the
password; in graph mode Entra ID does). The only code that writes these columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.sessions.backends.base import SessionBase
from django.db.models import F
from django.utils import timezone

from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.selectors import SESSION_PROOF_KEY


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


def session_proof_mark(*, session: SessionBase, at: datetime | None = None) -> None:
    """This session's person just proved who they are: a whole sign-in (the password and
    the second factor where one is asked, or Entra ID's sign-in in graph mode) or a
    reauthentication. The step-up before method changes reads it (``session_proved_at``).

    Kept in the session, never on the user: a password typed in another browser, or a
    sign-in stopped before its second factor, proves nothing for this one."""
    session[SESSION_PROOF_KEY] = (at or timezone.now()).timestamp()
