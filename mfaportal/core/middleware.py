from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse

# No inline script anywhere: htmx and the portal's own script are static files.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set: CSP and a strict permissions policy."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        if request.user.is_authenticated if hasattr(request, "user") else False:
            # Pages about someone's account are never stored by a shared browser or proxy.
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, minus one race.

    Django deletes the session cookie when a request finds its session empty. Signing in
    rotates the session key, so a request that was already under way with the old key (an
    htmx poll, a second tab) finds that session gone and, in answering, would delete the
    browser's *new* cookie: the person who just signed in is signed out again. Here the
    cookie is deleted only when this request emptied the session itself (sign-out).
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if (
            session is not None
            and self.cookie_name_in(request)
            and session.is_empty()
            and not session.modified
        ):
            return response
        return super().process_response(request, response)

    @staticmethod
    def cookie_name_in(request: HttpRequest) -> bool:
        return settings.SESSION_COOKIE_NAME in request.COOKIES
