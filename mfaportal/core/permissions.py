"""Role checks for views. Every view says which portal roles may use it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from mfaportal.core.htmx import htmx_details, redirect_for
from mfaportal.core.roles import PortalRole

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def role_required(*roles: PortalRole) -> Callable[[View], View]:
    """Anonymous → the sign-in page; signed in without one of ``roles`` → 403."""

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
            if request.user.portal_role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorator


staff_required = role_required(PortalRole.ADMIN, PortalRole.HELPDESK)
admin_required = role_required(PortalRole.ADMIN)
signed_in_required = role_required(PortalRole.ADMIN, PortalRole.HELPDESK, PortalRole.USER)
