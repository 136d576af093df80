"""Capability checks for views. Every view says what a person must be able to do to use it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from mfaportal.core.htmx import htmx_details, redirect_for
from mfaportal.core.roles import Capability

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def capability_required(
    *needed: Capability, post: tuple[Capability, ...] | None = None
) -> Callable[[View], View]:
    """Anonymous → the sign-in page; signed in without every one of ``needed`` → 403.

    ``post``: what a POST needs instead (any one of them), for a page that readers may see
    and only some may submit. Without it a POST needs what a GET does.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                # An htmx request (a poll that outlived the session) sends the page itself to
                # sign-in, and back to the page afterwards, not to the fragment's address.
                details = htmx_details(request)
                back = details.current_url_abs_path if details else None
                login = redirect_to_login(back or request.get_full_path())
                return redirect_for(request, login["Location"])
            held = request.user.capabilities
            if not all(capability in held for capability in needed):
                raise PermissionDenied
            if post is not None and request.method == "POST" and not held & set(post):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorator


# Anyone signed in: their own security info.
signed_in_required = capability_required()
# Every admin page, read-only for readers; what a page changes needs more, asked for there.
staff_required = capability_required(Capability.VIEW_ADMIN)
