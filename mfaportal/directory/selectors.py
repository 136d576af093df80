"""Reads of the cached tenant that pages share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

from mfaportal.directory.models import DirectoryUser


def signed_in_user(request: HttpRequest) -> DirectoryUser:
    """The person signed in to this request (the role decorators have checked there is one)."""
    return cast(DirectoryUser, request.user)


# When this session last proved who is using it (directory.services.session_proof_mark).
SESSION_PROOF_KEY = "mfaportal_proved_at"


def session_proved_at(session: SessionBase) -> datetime | None:
    """When this session's person last proved who they are, or None if never."""
    value = session.get(SESSION_PROOF_KEY)
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=UTC)
