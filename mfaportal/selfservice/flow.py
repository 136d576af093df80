"""The half-finished sign-in: who proved their password in this browser, and what is left.

One ``Flow`` row of kind ``sign_in`` per browser (``selfservice/flows.py``), moved from stage
to stage by conditional updates: the challenge, or the registration (*More information
required*), then *Keep using your existing applications*, then *Update your password* for a
temporary password (the order seed 003 walks). Only ``signed_in`` calls Django's
``login()`` (which rotates the session key) and marks the session's proof for the step-up;
``signin_finish`` calls it and ends the row. The session key is also
rotated when the password is accepted, so a session id planted before sign-in never carries
a half-signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from mfaportal.core.audit import ChangeContext
from mfaportal.core.client_ip import client_ip
from mfaportal.core.htmx import is_htmx, redirect_for
from mfaportal.core.models import AuditSource
from mfaportal.core.prepared import Prepared, prepared_rows
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.services import session_proof_mark
from mfaportal.mfa.models import ServiceSettings
from mfaportal.mfa.recovery import recovery_contacts
from mfaportal.mfa.remembered import remembered_device_cookie_name, remembered_device_issue
from mfaportal.selfservice import flows
from mfaportal.selfservice.flows import FlowState

SIGN_IN = flows.Kind.SIGN_IN
PENDING_TTL = timedelta(minutes=15)
RECOVERY_TTL = timedelta(hours=1)
# Stages of the sign-in flow.
CHALLENGE = "challenge"
REGISTER = "register"
# *Keep using your existing applications*: after registration, before the new password.
APP_PASSWORDS = "app_passwords"
# A temporary password: *Update your password* (DESIGN §5.7).
PASSWORD_CHANGE = "password_change"


@dataclass(frozen=True)
class Pending:
    """A sign-in under way in this browser: the user and the flow as read."""

    user: DirectoryUser
    flow: FlowState


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """The ``next=`` target if it stays on this site, else the home page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def self_service_context(request: HttpRequest, user: DirectoryUser) -> ChangeContext:
    return ChangeContext(actor=user, source=AuditSource.SELF_SERVICE, ip_address=client_ip(request))


def pending_start(request: HttpRequest, *, user: DirectoryUser, next_url: str, stage: str) -> None:
    request.session.cycle_key()
    flows.flow_start(
        request,
        kind=SIGN_IN,
        user=user,
        ttl=PENDING_TTL,
        stage=stage,
        data={"next": next_url, "auth_hash": user.get_session_auth_hash()},
    )


def pending(request: HttpRequest, *, stage: str | None = None) -> Pending | None:
    """The sign-in under way here, if it is fresh and still valid (and at ``stage``)."""
    flow = flows.flow_current(request, SIGN_IN)
    if flow is None:
        return None
    if (stage is not None and flow.stage != stage) or flow.user_id is None:
        return None
    found = prepared_rows(_PENDING_USER, DirectoryUser, (flow.user_id,))
    user = found[0] if found else None
    if (
        user is None
        or not user.account_enabled
        or user.get_session_auth_hash() != flow.get("auth_hash")
    ):
        pending_clear(request)
        return None
    return Pending(user, flow)


# The sign-in's user with their MFA row, read on every page of a sign-in: compiled once.
_PENDING_USER = Prepared(
    lambda pk: DirectoryUser.objects.filter(pk=pk).select_related("mfa"), (-8_675_309,)
)


def pending_user(request: HttpRequest, *, stage: str | None = None) -> DirectoryUser | None:
    found = pending(request, stage=stage)
    return found.user if found is not None else None


def pending_clear(request: HttpRequest) -> None:
    flows.flow_forget(request, SIGN_IN)


def stage_url(flow: FlowState) -> str:
    """The page where a sign-in at this stage continues."""
    if flow.stage == CHALLENGE:
        return reverse("signin_flow:verify")
    if flow.stage == PASSWORD_CHANGE:
        return reverse("signin_flow:update_password")
    if flow.stage == APP_PASSWORDS:
        return reverse("signin_flow:register_app_passwords")
    if flow.stage == REGISTER:
        reg = flow.get("reg") or {}
        if reg.get("verifying"):
            return reverse("signin_flow:register_verify")
        if (reg.get("primary") or {}).get("verified"):
            return reverse("signin_flow:register_backup")
        return reverse("signin_flow:register")
    return reverse("signin")


def where_it_stands(request: HttpRequest) -> HttpResponse:
    """Go where this browser's sign-in now stands. A request that lost a race (the poll and
    the click, two tabs, Back and resubmit) ends up here instead of acting twice."""
    found = pending(request)
    if found is not None:
        return redirect_for(request, stage_url(found.flow))
    return expired(request)


def moved_on(request: HttpRequest) -> HttpResponse:
    """The answer to a request that lost a race (``flows.FlowMoved``): a poll simply polls
    again; a person's click goes where the sign-in now stands."""
    if is_htmx(request):
        return HttpResponse(status=204)
    return where_it_stands(request)


def expired(request: HttpRequest) -> HttpResponse:
    """No sign-in under way here any more."""
    if request.user.is_authenticated:
        # Finished, and this is Back or a second tab: nothing to do again.
        return redirect_for(request, resolve_url(settings.LOGIN_REDIRECT_URL))
    if is_htmx(request):
        # A poll that outlived its sign-in (finished, or replaced in another tab): stop
        # polling (htmx's 286) and leave the session alone.
        return HttpResponse(status=286)
    messages.error(request, _("Your sign-in took too long or was interrupted. Sign in again."))
    return redirect_for(request, reverse("signin"))


def signin_finish(
    request: HttpRequest, user: DirectoryUser, flow: FlowState, *, remember: bool = False
) -> HttpResponse:
    """Sign the user in for real (new session key) and go where they were heading.

    A user still holding a temporary password replaces it first (the second factor, if one
    was asked, is proved already and not asked again). After a registration, *Don't lose
    access to your account!* follows when self-service password reset needs contacts.
    Raises ``flows.FlowMoved`` when another request moved the sign-in since it was read."""
    if user.password_must_change:
        flows.flow_move(flow, stage=PASSWORD_CHANGE, second_factor_done=True, remember=remember)
        return redirect_for(request, reverse("signin_flow:update_password"))
    # FlowMoved when another request (a poll, a second click) finished this sign-in first:
    # the caller's transaction undoes what led here, and the caller says where it stands.
    flows.flow_close(request, flow)
    after = safe_next(request, flow.get("next"))
    signed_in(request, user)
    if flow.get("registered") and recovery_contacts(user).needs_registration:
        recovery_start(request, user=user, then=after)
        after = reverse("selfservice:recovery")
    response = redirect_for(request, after)
    if remember:
        remember_device(request, response, user)
    return response


def signed_in(request: HttpRequest, user: DirectoryUser) -> None:
    """The sign-in is whole (the password, and the second factor where one is asked): a new
    session key, and this session's proof for the step-up before method changes."""
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    session_proof_mark(session=request.session)


def recovery_start(request: HttpRequest, *, user: DirectoryUser, then: str) -> None:
    """*Don't lose access to your account!*, then ``then`` (the flow's one piece of state
    besides the email code waiting to be typed)."""
    flows.flow_start(
        request, kind=flows.Kind.RECOVERY, user=user, ttl=RECOVERY_TTL, data={"then": then}
    )


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
    # Handed on to the page's own read of the sign-in (``pending``): one query for both.
    flow = flows.flow_current(request, SIGN_IN, hand_on=True)
    return flow is not None and flow.stage == PASSWORD_CHANGE
