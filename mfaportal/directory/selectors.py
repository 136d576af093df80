"""Reads of the cached tenant that pages share."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from mfaportal.directory.models import DirectoryUser


def signed_in_user(request: HttpRequest) -> DirectoryUser:
    """The person signed in to this request (the role decorators have checked there is one)."""
    return cast(DirectoryUser, request.user)
