"""The half-finished sign-in: who proved their password in this browser, and what is left.

Kept in the session under one key until the second factor or the registration is done;
only then does ``signin_finish`` call Django's ``login()`` (which rotates the session key).
The session key is also rotated when the password is accepted, so a session id planted
before sign-in never carries a half-signed-in user.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from mfaportal.core.audit import ChangeContext
from mfaportal.core.client_ip import client_ip
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import ServiceSettings
from mfaportal.mfa.remembered import remembered_device_cookie_name, remembered_device_issue

PENDING_KEY = "mfa_signin"
PENDING_TTL_SECONDS = 15 * 60
REGISTER = "register"
CHALLENGE = "challenge"
# A temporary password: *Update your password* before anything else (DESIGN §5.7).
PASSWORD_CHANGE = "password_change"


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """The ``next=`` target if it stays on this site, else the home page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    from django.shortcuts import resolve_url

    return resolve_url(settings.LOGIN_REDIRECT_URL)


def self_service_context(request: HttpRequest, user: DirectoryUser) -> ChangeContext:
    return ChangeContext(actor=user, source=AuditSource.SELF_SERVICE, ip_address=client_ip(request))


def pending_start(request: HttpRequest, *, user: DirectoryUser, next_url: str, stage: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "auth_hash": user.get_session_auth_hash(),
        "started": time.time(),
        "next": next_url,
        "stage": stage,
    }


def pending_state(request: HttpRequest) -> dict[str, Any] | None:
    state = request.session.get(PENDING_KEY)
    if not isinstance(state, dict):
        return None
    return state


def pending_user(request: HttpRequest, *, stage: str | None = None) -> DirectoryUser | None:
    """The user halfway through signing in here, if the sign-in is still fresh and valid."""
    state = pending_state(request)
    if state is None:
        return None
    if time.time() - float(state.get("started", 0)) > PENDING_TTL_SECONDS:
        pending_clear(request)
        return None
    if stage is not None and state.get("stage") != stage:
        return None
    user_id = state.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = DirectoryUser.objects.filter(pk=user_id).select_related("mfa").first()
    if (
        user is None
        or not user.account_enabled
        or user.get_session_auth_hash() != state.get("auth_hash")
    ):
        pending_clear(request)
        return None
    return user


def pending_update(request: HttpRequest, **values: Any) -> None:
    state = pending_state(request) or {}
    state.update(values)
    request.session[PENDING_KEY] = state


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def signin_finish(
    request: HttpRequest,
    user: DirectoryUser,
    *,
    remember: bool = False,
    redirect_to: str | None = None,
) -> HttpResponse:
    """Sign the user in for real (new session key) and go where they were heading; a user
    still holding a temporary password replaces it first (the second factor, if one was
    asked, is proved already and not asked again)."""
    if user.password_must_change:
        pending_update(request, stage=PASSWORD_CHANGE, second_factor_done=True, remember=remember)
        return HttpResponseRedirect(reverse("signin_flow:update_password"))
    state = pending_state(request) or {}
    next_url = safe_next(request, state.get("next"))
    pending_clear(request)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    response = HttpResponseRedirect(redirect_to or next_url)
    if remember:
        remember_device(request, response, user)
    return response


def remember_device(request: HttpRequest, response: HttpResponse, user: DirectoryUser) -> None:
    service = ServiceSettings.load()
    if not service.remember_devices_allowed:
        return
    days = max(1, min(365, service.remember_devices_days))
    token = remembered_device_issue(
        user=user, days=days, label=request.headers.get("User-Agent", "")[:200]
    )
    response.set_cookie(
        remembered_device_cookie_name(user),
        token,
        max_age=days * 86400,
        path="/signin/",
        secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def remembered_token(request: HttpRequest, user: DirectoryUser) -> str:
    return request.COOKIES.get(remembered_device_cookie_name(user), "")


def password_change_pending(request: HttpRequest) -> bool:
    """This browser proved a temporary password and has not replaced it yet."""
    state = pending_state(request)
    return (
        state is not None
        and state.get("stage") == PASSWORD_CHANGE
        and time.time() - float(state.get("started", 0)) <= PENDING_TTL_SECONDS
    )
