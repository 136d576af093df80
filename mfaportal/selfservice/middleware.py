"""A temporary password is replaced before anything else opens (DESIGN §5.7).

The sign-in keeps a user who proved a temporary password at the *Update your password*
stage, not signed in, so the signed-in pages already refuse them. This middleware makes it
hold for every other URL too (the simulators under /demo/, anonymous pages, anything added
later): while this browser has such a sign-in under way, or a signed-in user is flagged to
change their password, every page but *Update your password*, sign-in and sign-out
redirects to *Update your password*.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from mfaportal.core.htmx import is_htmx
from mfaportal.selfservice import flow

# Machine endpoints with no session and no page: never touched here (the legacy endpoint is
# a hot path and has its own rule for temporary passwords).
NOT_PAGES = ("/legacy/", "/telephony/", "/health/", "/ready/")


class PasswordChangeRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(NOT_PAGES) or path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return self.get_response(request)
        if not _must_change(request):
            return self.get_response(request)
        target = reverse("signin_flow:update_password")
        if path in (target, reverse("signout"), reverse("signin"), reverse("set_language")):
            return self.get_response(request)
        if is_htmx(request):
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)


def _must_change(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and getattr(user, "password_must_change", False):
        return True
    return flow.password_change_pending(request)
