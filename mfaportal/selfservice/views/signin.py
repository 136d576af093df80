"""Sign-in: the password, then by MFA state nothing, registration, or a challenge."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from mfaportal.core.htmx import is_htmx
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges, throttle
from mfaportal.mfa.models import MethodType, ServiceSettings, VerificationChallenge
from mfaportal.mfa.phones import phone_mask
from mfaportal.mfa.recovery import password_reset_available
from mfaportal.mfa.selectors import user_mfa
from mfaportal.mfa.signin import (
    Next,
    SignInOption,
    default_option,
    password_check,
    password_failure_record,
    password_lockout_message,
    password_throttle_keys,
    signin_next_step,
    signin_options,
)
from mfaportal.selfservice import flow
from mfaportal.selfservice.flow import safe_next  # noqa: F401  (the sign-in's next= rule)
from mfaportal.selfservice.forms import SignInForm

logger = logging.getLogger(__name__)

FRAUD_BLOCKED = _(
    "Your account is blocked from signing in because a fraud report was made for it. "
    "Contact your support person to unblock it."
)


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next", "")
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        keys = password_throttle_keys(form.cleaned_data["username"], flow.client_ip(request))
        if blocked := throttle.bucket_blocked_for(list(keys)):
            form.add_error(None, password_lockout_message(blocked))
            return render(request, "selfservice/signin.html", {"form": form, "next": next_url})
        check = password_check(
            user_principal_name=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if check.user is None:
            password_failure_record(keys)
        if check.user is not None:
            user = check.user
            step = signin_next_step(
                user=user,
                ip_address=flow.client_ip(request),
                device_token=flow.remembered_token(request, user),
                service=ServiceSettings.load(),
            )
            logger.info("password accepted for user %s; next: %s", user.pk, step)
            if user.password_must_change and step in (Next.SIGNED_IN, Next.REGISTER):
                # A temporary password is replaced before anything else. (A user with
                # methods to answer answers them first: the temporary password alone must
                # not be enough to choose the next one.)
                flow.pending_start(
                    request, user=user, next_url=next_url, stage=flow.PASSWORD_CHANGE
                )
                return redirect("signin_flow:update_password")
            if step == Next.SIGNED_IN:
                flow.pending_clear(request)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(flow.safe_next(request, next_url))
            if step == Next.BLOCKED:
                form.add_error(None, FRAUD_BLOCKED)
            elif step == Next.REGISTER:
                flow.pending_start(request, user=user, next_url=next_url, stage=flow.REGISTER)
                return redirect("signin_flow:more_information")
            else:
                flow.pending_start(request, user=user, next_url=next_url, stage=flow.CHALLENGE)
                return redirect("signin_flow:verify")
        else:
            form.add_error(None, check.error)
    return render(
        request,
        "selfservice/signin.html",
        {"form": form, "next": next_url, "password_reset": password_reset_available()},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def signout(request: HttpRequest) -> HttpResponse:
    """POST signs out (the header's button); GET, an address typed or followed, asks first:
    a GET must not change anything, and a link elsewhere must not sign anyone out."""
    if request.method == "POST":
        logout(request)
        return redirect("signin")
    if not request.user.is_authenticated:
        return redirect("signin")
    return render(request, "selfservice/signout.html")


def _expired(request: HttpRequest) -> HttpResponse:
    if is_htmx(request):
        # A poll that outlived its sign-in (finished, or replaced in another tab): stop
        # polling (htmx's 286) and leave the session alone.
        return HttpResponse(status=286)
    messages.error(request, _("Your sign-in took too long or was interrupted. Sign in again."))
    return redirect("signin")


def _live_challenge(state: dict, option: SignInOption) -> str:
    if state.get("option") == option.key and state.get("challenge_id"):
        return str(state["challenge_id"])
    return ""


def _start(request: HttpRequest, user: DirectoryUser, option: SignInOption) -> str:
    """Start the challenge for this option; returns an error sentence or ''."""
    channel = {
        "text": VerificationChallenge.Channel.TEXT,
        "call": VerificationChallenge.Channel.CALL,
        "app_notification": VerificationChallenge.Channel.APP_NOTIFICATION,
    }[option.channel]
    method = user.methods.filter(pk=option.method_id).first()
    try:
        challenge = challenges.challenge_start(
            user=user,
            channel=channel,
            purpose=VerificationChallenge.Purpose.SIGN_IN,
            method=method,
        )
    except challenges.ChallengeRefused as refused:
        flow.pending_update(request, option=option.key, challenge_id="")
        return refused.message
    flow.pending_update(request, option=option.key, challenge_id=str(challenge.id))
    return ""


def _finish(request: HttpRequest, user: DirectoryUser, remember: bool) -> HttpResponse:
    logger.info("second factor accepted for user %s", user.pk)
    response = flow.signin_finish(request, user, remember=remember)
    if is_htmx(request):
        redirect_response = HttpResponseClientRedirect(response["Location"])
        redirect_response.cookies = response.cookies
        return redirect_response
    return response


def _code_fast_path(
    request: HttpRequest, user: DirectoryUser, service: ServiceSettings, state: dict
) -> HttpResponse | None:
    method_type, _sep, method_id = str(state.get("option", "")).partition(":")
    remember = service.remember_devices_allowed and request.POST.get("remember") == "on"
    code = request.POST.get("code", "")
    if method_type == MethodType.PHONE_APP_OTP and service.method_app_code and method_id.isdigit():
        outcome = challenges.totp_check(method_id=int(method_id), user=user, code=code)
    elif (
        method_type == MethodType.ONE_WAY_SMS and service.method_text and state.get("challenge_id")
    ):
        outcome = challenges.text_code_check(
            challenge_id=str(state["challenge_id"]), user=user, code=code
        )
    else:
        return None
    if outcome.ok:
        return _finish(request, user, remember)
    flow.pending_update(request, answer_error=outcome.message)
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = flow.pending_user(request, stage=flow.CHALLENGE)
    if user is None:
        return _expired(request)
    if user_mfa(user).blocked_for_fraud_at is not None:
        flow.pending_clear(request)
        messages.error(request, FRAUD_BLOCKED)
        return redirect("signin")
    service = ServiceSettings.load()
    state = flow.pending_state(request) or {}
    # The common case first, without listing every option: a code for the option already
    # on screen (each check confirms the method is the user's own).
    code_posted = request.method == "POST" and request.POST.get("action") == "code"
    if code_posted and (fast := _code_fast_path(request, user, service, state)):
        return fast
    options = signin_options(user, service)
    option = next((o for o in options if o.key == state.get("option")), None) or default_option(
        user, options
    )
    error = ""
    if option is None:
        return render(
            request,
            "selfservice/verify.html",
            {
                "option": None,
                "error": _(
                    "None of your verification options is available. Contact your support person."
                ),
            },
        )
    if request.method == "POST":
        action = request.POST.get("action", "")
        remember = service.remember_devices_allowed and request.POST.get("remember") == "on"
        challenge_id = _live_challenge(state, option)
        already_checked = (flow.pending_state(request) or {}).get("answer_error", "")
        if action == "code" and already_checked:
            error = already_checked
            flow.pending_update(request, answer_error="")
        elif action == "code" and option.channel in ("text", "app_code"):
            code = request.POST.get("code", "")
            if option.channel == "app_code":
                outcome = challenges.totp_check(method_id=option.method_id, user=user, code=code)
            elif challenge_id:
                outcome = challenges.text_code_check(
                    challenge_id=challenge_id, user=user, code=code
                )
            else:
                outcome = challenges.Check("expired", _("Request a new code."))
            if outcome.ok:
                return _finish(request, user, remember)
            error = outcome.message
        elif action == "check" and option.channel in ("call", "app_notification"):
            outcome = challenges.answer_take(challenge_id=challenge_id, user=user)
            if outcome.ok:
                return _finish(request, user, remember)
            if outcome.status == "pending":
                if is_htmx(request):
                    return HttpResponse(status=204)
                error = _("We're still waiting for your answer.")
            else:
                if user_mfa(user).blocked_for_fraud_at is not None:
                    flow.pending_clear(request)
                    messages.error(request, FRAUD_BLOCKED)
                    if is_htmx(request):
                        return HttpResponseClientRedirect("/signin/")
                    return redirect("signin")
                error = outcome.message
                if is_htmx(request):
                    # The page reloads to show what happened and offer to try again.
                    flow.pending_update(request, answer_error=error)
                    return HttpResponseClientRedirect(request.path)
        elif action == "resend" and option.channel != "app_code":
            error = _start(request, user, option)
            if not error:
                return redirect("signin_flow:verify")
    elif option.channel != "app_code" and not _live_challenge(state, option):
        error = _start(request, user, option)
    state = flow.pending_state(request) or {}
    error = error or state.pop("answer_error", "")
    flow.pending_update(request, answer_error="")
    challenge: VerificationChallenge | None = None
    if challenge_id := _live_challenge(state, option):
        challenge = VerificationChallenge.objects.filter(pk=challenge_id, user=user).first()
    method = user.methods.filter(pk=option.method_id).first()
    return render(
        request,
        "selfservice/verify.html",
        {
            "option": option,
            "other_options": len(options) > 1,
            "challenge": challenge,
            "masked_number": phone_mask(method.phone_number)
            if method and method.phone_number
            else "",
            "error": error,
            "remember_allowed": service.remember_devices_allowed,
            "remember_days": service.remember_devices_days,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def verify_other(request: HttpRequest) -> HttpResponse:
    """ "Sign in another way": every option the user has and the admin allows."""
    user = flow.pending_user(request, stage=flow.CHALLENGE)
    if user is None:
        return _expired(request)
    options = signin_options(user, ServiceSettings.load())
    if request.method == "POST":
        chosen = next((o for o in options if o.key == request.POST.get("option")), None)
        if chosen is not None:
            flow.pending_update(request, option=chosen.key, challenge_id="")
            return redirect("signin_flow:verify")
    return render(request, "selfservice/verify_other.html", {"options": options})
