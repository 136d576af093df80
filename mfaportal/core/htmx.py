"""htmx in views: typed access to django-htmx's request details, the event names the pages
listen for, and the redirect that works for both a plain request and an htmx one.

An htmx request that must go to another page gets ``HX-Redirect`` (the browser loads the
page); a plain 302 would be followed by htmx itself and the page swapped into a fragment.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

# Events the pages listen for (``hx-trigger="... from:body"``), sent in ``HX-Trigger``.
USERS_CHANGED = "mfa-users-changed"
JOBS_CHANGED = "mfa-jobs-changed"


class HtmxHttpRequest(HttpRequest):
    """A request that has been through django-htmx's middleware."""

    htmx: HtmxDetails


def is_htmx(request: HttpRequest) -> bool:
    """Whether django-htmx saw an htmx request (its details are falsy otherwise)."""
    return bool(getattr(request, "htmx", False))


def htmx_details(request: HttpRequest) -> HtmxDetails | None:
    """django-htmx's details of an htmx request, None for any other (where the view's
    request is not typed ``HtmxHttpRequest``, as in a decorator)."""
    details = getattr(request, "htmx", None)
    return details if details else None


def redirect_for(request: HttpRequest, url: str) -> HttpResponse:
    """Go to ``url``: a client-side redirect for htmx, a 302 for everyone else."""
    if is_htmx(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def trigger(response: HttpResponse, event: str) -> HttpResponse:
    """Tell the page (``HX-Trigger``) that something it shows has changed."""
    response["HX-Trigger"] = event
    return response
