"""*Forgot my password* (DESIGN §5.7): user name → prove the required methods (email code,
text or call) → a new password; then every session and remembered device of the user ends.

Nothing answers differently for a user name that does not exist, a user not registered for
password reset, or a contact that does not match: the person types the complete address or
number of a registered contact, and the answer is always "if it is the one registered, we
sent a code". Only a proved method opens the next step. Each answer before that takes at
least ``EVEN_RESPONSE_SECONDS`` so its timing doesn't tell either. Requests are limited per
user name and per client address; what happens is audited, never a code.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.contrib.auth.password_validation import password_validators_help_text_html
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.client_ip import client_ip
from mfaportal.core.htmx import is_htmx, redirect_for
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges, throttle
from mfaportal.mfa.crypto import keyed_hash
from mfaportal.mfa.models import ServiceSettings, VerificationChallenge
from mfaportal.mfa.phones import phone_international
from mfaportal.mfa.recovery import (
    EMAIL,
    PHONE,
    RecoveryRefused,
    methods_required,
    password_reset_available,
    password_reset_self_service,
    recovery_contacts,
)
from mfaportal.selfservice import flows
from mfaportal.selfservice.forms import ForgotUserForm, NewPasswordForm, ResetContactForm

logger = logging.getLogger(__name__)
Channel = VerificationChallenge.Channel

RESET = flows.Kind.PASSWORD_RESET
DONE_KEY = "password_reset_done"
RESET_TTL = timedelta(minutes=15)
# Every answer before a method is proved takes at least this long, whatever happened.
EVEN_RESPONSE_SECONDS = 0.35
_WINDOW = timedelta(minutes=15)
START_PER_ADDRESS = throttle.Limit(count=30, window=_WINDOW, block=_WINDOW)
SEND_PER_USER = throttle.Limit(count=5, window=_WINDOW, block=_WINDOW)
SEND_PER_ADDRESS = throttle.Limit(count=20, window=_WINDOW, block=_WINDOW)
CHECK_PER_USER = throttle.Limit(count=10, window=_WINDOW, block=_WINDOW)
CHECK_PER_ADDRESS = throttle.Limit(count=50, window=_WINDOW, block=_WINDOW)


def _too_many() -> str:
    return _("You've tried too many times. Wait 15 minutes and try again.")


def _even_out(started: float) -> None:
    left = EVEN_RESPONSE_SECONDS - (time.perf_counter() - started)
    if left > 0:
        time.sleep(left)


def _user_key(state: dict[str, Any]) -> str:
    # Keyed hash: the same for a real and an invented name, and no typed name kept in clear.
    return "sspr:user:" + keyed_hash(str(state.get("upn", "")).lower(), purpose="sspr-user")[:40]


def _address_key(request: HttpRequest) -> str:
    return f"sspr:address:{client_ip(request) or 'unknown'}"


def _state(request: HttpRequest) -> tuple[flows.FlowState, dict[str, Any]] | None:
    """The reset under way in this browser (its row, as read) and a copy of its state to
    change and ``_save``."""
    found = flows.flow_current(request, RESET)
    if found is None:
        return None
    return found, dict(found.data)


def _save(found: flows.FlowState, state: dict[str, Any]) -> bool:
    """Store the changed state, unless another request moved the reset meanwhile."""
    return flows.flow_advance(found, **state) is not None


def _user(state: dict[str, Any]) -> DirectoryUser | None:
    user_id = state.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = DirectoryUser.objects.filter(pk=user_id, account_enabled=True).first()
    return user if user is not None and user.has_usable_password() else None


def _required(state: dict[str, Any], user: DirectoryUser | None, service: ServiceSettings) -> int:
    """How many methods this reset needs. Before a first proof, what the tenant asks of
    everyone (so an admin's stricter rule shows only once a method is proved)."""
    if user is not None and state.get("proved"):
        return methods_required(user, service)
    return 2 if service.password_reset_methods_required >= 2 else 1


def _context(request: HttpRequest, user: DirectoryUser) -> ChangeContext:
    return ChangeContext(actor=user, source=AuditSource.SELF_SERVICE, ip_address=client_ip(request))


def _unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "selfservice/forgot_password.html", {"unavailable": True})


def _start_over(request: HttpRequest) -> HttpResponse:
    flows.flow_forget(request, RESET)
    return redirect_for(request, reverse("signin_flow:forgot_password"))


@never_cache
@require_http_methods(["GET", "POST"])
def forgot_password(request: HttpRequest) -> HttpResponse:
    """Get back into your account: who are you?"""
    if not password_reset_available():
        return _unavailable(request)
    form = ForgotUserForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        started = time.perf_counter()
        if throttle.bucket_hit(_address_key(request), START_PER_ADDRESS):
            error = _too_many()
        else:
            upn = form.cleaned_data["username"].strip()
            user = DirectoryUser.objects.by_upn(upn).first()
            eligible = user is not None and user.account_enabled and user.has_usable_password()
            request.session.cycle_key()
            flows.flow_start(
                request,
                kind=RESET,
                user=user if user is not None and eligible else None,
                ttl=RESET_TTL,
                data={
                    "upn": upn,
                    "user_id": user.pk if user is not None and eligible else None,
                    "proved": [],
                    "challenge_id": "",
                    "channel": "",
                    "sent_to": "",
                    "sent_at": 0.0,
                    "attempts": 0,
                },
            )
            _even_out(started)
            return redirect("signin_flow:forgot_verify")
        _even_out(started)
    return render(request, "selfservice/forgot_password.html", {"form": form, "error": error})


def _methods_left(state: dict[str, Any], service: ServiceSettings) -> list[str]:
    proved = state.get("proved") or []
    methods = []
    if EMAIL not in proved:
        methods.append("email")
    if PHONE not in proved:
        if service.method_text:
            methods.append("text")
        if service.method_call:
            methods.append("call")
    return methods


def _send_if_registered(
    request: HttpRequest, user: DirectoryUser, method: str, typed: str, service: ServiceSettings
) -> str:
    """Start the challenge when ``typed`` is the user's registered contact for ``method``;
    the challenge id, or '' (which the person can't tell apart from a sent code)."""
    contacts = recovery_contacts(user, service)
    if method == "email" and contacts.email and contacts.email.lower() == typed.lower():
        kwargs: dict[str, Any] = {"channel": Channel.EMAIL, "email_address": contacts.email}
    elif method in ("text", "call") and contacts.phone and contacts.phone == typed:
        channel = Channel.TEXT if method == "text" else Channel.CALL
        kwargs = {"channel": channel, "phone_number": contacts.phone}
    else:
        return ""
    try:
        # No method object: a stranger failing reset codes must not lock the user's phone
        # for sign-in. The reset's own limits and the challenge's attempts bound guessing.
        challenge = challenges.challenge_start(
            user=user, purpose=VerificationChallenge.Purpose.PASSWORD_RESET, **kwargs
        )
    except challenges.ChallengeRefused as refused:
        logger.warning("password reset code for user %s not sent: %s", user.pk, refused.message)
        return ""
    audit_record(
        _context(request, user),
        AuditEntry.about(user, "sspr.verification_sent", detail={"channel": kwargs["channel"]}),
    )
    return str(challenge.id)


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """verification step N: choose a contact method and type it in full."""
    if not password_reset_available():
        return _unavailable(request)
    read = _state(request)
    if read is None:
        return _start_over(request)
    found, state = read
    service = ServiceSettings.load()
    user = _user(state)
    required = _required(state, user, service)
    proved = list(state.get("proved") or [])
    if user is not None and len(proved) >= required:
        return redirect("signin_flow:forgot_new_password")
    methods = _methods_left(state, service)
    form = ResetContactForm(request.POST or None, methods=methods, prefix="reset")
    error = ""
    if request.method == "POST" and form.is_valid():
        started = time.perf_counter()
        over_user = throttle.bucket_hit(_user_key(state), SEND_PER_USER)
        over_address = throttle.bucket_hit(_address_key(request), SEND_PER_ADDRESS)
        if over_user or over_address:
            error = _too_many()
        else:
            method = form.cleaned_data["method"]
            typed = form.cleaned_data["email"] if method == "email" else form.cleaned_data["e164"]
            challenge_id = (
                _send_if_registered(request, user, method, typed, service) if user else ""
            )
            state.update(
                challenge_id=challenge_id,
                channel=method,
                sent_to=typed if method == "email" else phone_international(typed),
                sent_at=time.time(),
                attempts=0,
            )
            _save(found, state)
            _even_out(started)
            return redirect("signin_flow:forgot_code")
        _even_out(started)
    return render(
        request,
        "selfservice/forgot_verify.html",
        {
            "form": form,
            "error": error,
            "step": len(proved) + 1,
            "steps": list(range(1, required + 1)),
            "upn": state.get("upn", ""),
        },
    )


def _invented_check(state: dict[str, Any]) -> challenges.Check:
    """What a code check answers when no code was sent: what a wrong code would."""
    ttl = challenges.EMAIL_CODE_TTL if state.get("channel") == "email" else challenges.CODE_TTL
    if time.time() - float(state.get("sent_at", 0)) > ttl.total_seconds():
        return challenges.Check("expired", _("That request has expired. Request a new code."))
    if int(state.get("attempts", 0)) >= challenges.MAX_CODE_ATTEMPTS:
        return challenges.Check("expired", _("Too many incorrect codes. Request a new code."))
    state["attempts"] = int(state.get("attempts", 0)) + 1
    return challenges.Check("wrong", _("That code isn't right. Check it and try again."))


def _call_outcome(state: dict[str, Any], user: DirectoryUser | None) -> challenges.Check:
    challenge_id = str(state.get("challenge_id") or "")
    if user is not None and challenge_id:
        outcome = challenges.answer_take(challenge_id=challenge_id, user=user)
        if outcome.ok or outcome.status == "pending":
            return outcome
    elif time.time() - float(state.get("sent_at", 0)) <= challenges.ANSWER_TTL.total_seconds():
        return challenges.Check("pending")
    # A call not answered with # reads the same whether or not a phone rang.
    return challenges.Check("expired", _("We didn't hear from you. Try again."))


@never_cache
@require_http_methods(["GET", "POST"])
def code(request: HttpRequest) -> HttpResponse:
    """Enter the code (email or text), or answer the call (the page polls)."""
    if not password_reset_available():
        if is_htmx(request):
            return redirect_for(request, reverse("signin_flow:forgot_password"))
        return _unavailable(request)
    read = _state(request)
    if read is None:
        return _start_over(request)
    found, state = read
    channel = str(state.get("channel") or "")
    if channel not in ("email", "text", "call"):
        return redirect_for(request, reverse("signin_flow:forgot_verify"))
    user = _user(state)
    error = ""
    if request.method == "POST":
        started = time.perf_counter()
        counters = [
            throttle.Counter(_user_key(state), CHECK_PER_USER),
            throttle.Counter(_address_key(request), CHECK_PER_ADDRESS),
        ]
        # A typed code takes its attempt before it is checked (parallel guesses get no
        # more checks than the limits); the call's poll checks nothing and takes none.
        if channel == "call":
            blocked = throttle.bucket_blocked_for([counter.key for counter in counters])
        else:
            blocked = throttle.attempt_reserve(counters)
        if blocked:
            error = _too_many()
        else:
            if channel == "call":
                outcome = _call_outcome(state, user)
            elif user is not None and state.get("challenge_id"):
                outcome = challenges.text_code_check(
                    challenge_id=str(state["challenge_id"]),
                    user=user,
                    code=request.POST.get("code", "")[:12],
                )
            else:
                outcome = _invented_check(state)
            if channel != "call":
                if outcome.status == "wrong":
                    throttle.attempt_failed(counters)
                else:
                    throttle.attempt_succeeded(counters)
            if outcome.ok and user is not None:
                return _proved(request, found, state, user, PHONE if channel != "email" else EMAIL)
            if outcome.status == "pending":
                _even_out(started)
                if is_htmx(request):
                    return HttpResponse(status=204)
                error = _("We're still waiting for your answer.")
            else:
                error = outcome.message
                _save(found, state)
        _even_out(started)
    return render(
        request,
        "selfservice/forgot_code.html",
        {
            "channel": channel,
            "sent_to": state.get("sent_to", ""),
            "error": error,
            "step": len(state.get("proved") or []) + 1,
        },
    )


def _proved(
    request: HttpRequest,
    found: flows.FlowState,
    state: dict[str, Any],
    user: DirectoryUser,
    method: str,
) -> HttpResponse:
    proved = list(state.get("proved") or [])
    if method not in proved:
        proved.append(method)
    state.update(proved=proved, challenge_id="", channel="", sent_to="", attempts=0)
    if not _save(found, state):
        # Proved by a request racing this one (the poll and a click): it moved the reset.
        return redirect_for(request, reverse("signin_flow:forgot_verify"))
    audit_record(
        _context(request, user), AuditEntry.about(user, "sspr.method_proved", after=method)
    )
    target = (
        "signin_flow:forgot_new_password"
        if len(proved) >= methods_required(user, ServiceSettings.load())
        else "signin_flow:forgot_verify"
    )
    return redirect_for(request, reverse(target))


@sensitive_post_parameters("new_password", "confirm_password")
@never_cache
@require_http_methods(["GET", "POST"])
def new_password(request: HttpRequest) -> HttpResponse:
    """choose a new password: only once the required methods are proved."""
    if not password_reset_available():
        return _unavailable(request)
    read = _state(request)
    if read is None:
        return _start_over(request)
    found, state = read
    user = _user(state)
    proved = list(state.get("proved") or [])
    service = ServiceSettings.load()
    if user is None or len(proved) < methods_required(user, service):
        return redirect("signin_flow:forgot_verify")
    form = NewPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset_self_service(
                user=user,
                new_password=form.cleaned_data["new_password"],
                methods=proved,
                context=_context(request, user),
            )
        except RecoveryRefused as refused:
            form.add_error("new_password", refused.message)
        else:
            flows.flow_end(request, found)
            request.session.cycle_key()
            request.session[DONE_KEY] = True
            return redirect("signin_flow:forgot_done")
    return render(
        request,
        "selfservice/forgot_new_password.html",
        {
            "form": form,
            "upn": user.user_principal_name,
            "step": len(proved) + 1,
            "password_rules": password_validators_help_text_html(),
        },
    )


@never_cache
@require_http_methods(["GET"])
def done(request: HttpRequest) -> HttpResponse:
    if not request.session.pop(DONE_KEY, False):
        return redirect("signin")
    return render(request, "selfservice/forgot_done.html")
