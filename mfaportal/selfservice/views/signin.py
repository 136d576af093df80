"""Sign-in: the password, then by MFA state nothing, registration, or a challenge."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mfaportal.core.client_ip import client_ip_for_trust
from mfaportal.core.htmx import is_htmx, redirect_for
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges
from mfaportal.mfa.models import (
    MethodType,
    ServiceSettings,
    SignInAsked,
    SignInClient,
    SignInReason,
    SignInResult,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.phones import phone_mask
from mfaportal.mfa.recovery import password_reset_available
from mfaportal.mfa.selectors import user_methods, user_mfa
from mfaportal.mfa.services.signin_log import signin_record
from mfaportal.mfa.signin import (
    Next,
    SignInOption,
    default_option,
    password_sign_in,
    signin_next_step,
    signin_options,
)
from mfaportal.selfservice import flow, flows
from mfaportal.selfservice.flow import Pending, safe_next  # noqa: F401  (the next= rule)
from mfaportal.selfservice.flows import FlowState
from mfaportal.selfservice.forms import SignInForm
from mfaportal.selfservice.views import passkeys as passkey_views

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
        check = password_sign_in(
            user_principal_name=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
            address=flow.client_ip(request),
        )
        if check.user is not None:
            user = check.user
            step = signin_next_step(
                user=user,
                ip_address=client_ip_for_trust(request),
                device_token=flow.remembered_token(request, user),
                service=ServiceSettings.load(),
            )
            logger.info("password accepted for user %s; next: %s", user.pk, step)
            _password_logged(request, user, step)
            if user.password_must_change and step == Next.SIGNED_IN:
                # A temporary password is replaced before anything else opens. A user with
                # methods answers them first (the temporary password alone must not choose
                # the next one); one who must register does that first, then the app
                # password step, then *Update your password* (seed 003's order).
                flow.pending_start(
                    request, user=user, next_url=next_url, stage=flow.PASSWORD_CHANGE
                )
                return redirect("signin_flow:update_password")
            if step == Next.SIGNED_IN:
                flow.pending_clear(request)
                flow.signed_in(request, user)
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
            signin_record(
                client=SignInClient.BROWSER,
                asked=SignInAsked.PASSWORD,
                result=SignInResult.FAILURE,
                reason=check.reason,
                user=check.account,
                typed_name=form.cleaned_data["username"],
                address=flow.client_ip(request),
            )
            form.add_error(None, check.error)
    return render(
        request,
        "selfservice/signin.html",
        {"form": form, "next": next_url, "password_reset": password_reset_available()},
    )


# What the password step's answer leads to, as the sign-in log says it.
_PASSWORD_OUTCOME = {
    Next.SIGNED_IN: (SignInResult.SUCCESS, SignInReason.NONE),
    Next.BLOCKED: (SignInResult.FAILURE, SignInReason.FRAUD_BLOCK),
    Next.REGISTER: (SignInResult.INTERRUPTED, SignInReason.REGISTRATION_REQUIRED),
    Next.CHALLENGE: (SignInResult.INTERRUPTED, SignInReason.SECOND_FACTOR_REQUIRED),
}

# The answer a challenge option asks for.
_ASKED_BY_CHANNEL = {
    "text": SignInAsked.TEXT_CODE,
    "call": SignInAsked.PHONE_CALL,
    "app_notification": SignInAsked.APP_NOTIFICATION,
    "app_code": SignInAsked.APP_CODE,
}

# Why an answer to a challenge failed, from its check's status.
_REASON_BY_STATUS = {
    "wrong": SignInReason.WRONG_CODE,
    "expired": SignInReason.EXPIRED,
    "locked": SignInReason.LOCKED,
    "throttled": SignInReason.LOCKED,
    "denied": SignInReason.DENIED,
    "fraud": SignInReason.FRAUD_BLOCK,
}


def _code_asked(outcome: challenges.Check, *, hardware_token: bool) -> SignInAsked:
    """A TOTP code in the sign-in log: from a hardware token or an app, as the method checked
    says (or, the method gone, as the option did)."""
    if outcome.method_kind:
        hardware_token = outcome.method_kind == VerificationMethod.Kind.HARDWARE_TOKEN
    return SignInAsked.HARDWARE_TOKEN if hardware_token else SignInAsked.APP_CODE


def _password_logged(request: HttpRequest, user: DirectoryUser, step: str) -> None:
    result, reason = _PASSWORD_OUTCOME.get(step, (SignInResult.INTERRUPTED, SignInReason.NONE))
    if user.password_must_change and step == Next.SIGNED_IN:
        result, reason = SignInResult.INTERRUPTED, SignInReason.PASSWORD_CHANGE_REQUIRED
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked.PASSWORD,
        result=result,
        reason=reason,
        user=user,
        address=flow.client_ip(request),
    )


def _answer_logged(request: HttpRequest, user: DirectoryUser, asked: str, status: str) -> None:
    """Record an answer to the challenge (not a poll still waiting, nor one another request
    already took)."""
    if status in ("pending", "used"):
        return
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked(asked),
        result=SignInResult.SUCCESS if status == "ok" else SignInResult.FAILURE,
        reason=_REASON_BY_STATUS.get(status, SignInReason.NOT_ALLOWED)
        if status != "ok"
        else SignInReason.NONE,
        user=user,
        address=flow.client_ip(request),
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
    return flow.expired(request)


def _live_challenge(state: FlowState, option: SignInOption) -> str:
    if state.get("option") == option.key and state.get("challenge_id"):
        return str(state.get("challenge_id"))
    return ""


def _start(request: HttpRequest, found: Pending, option: SignInOption) -> tuple[Pending, str]:
    """Start the challenge for this option: the flow as it now stands, and an error
    sentence or ''."""
    channel = {
        "text": VerificationChallenge.Channel.TEXT,
        "call": VerificationChallenge.Channel.CALL,
        "app_notification": VerificationChallenge.Channel.APP_NOTIFICATION,
    }[option.channel]
    user = found.user
    method = user.methods.filter(pk=option.method_id).first()
    error, challenge_id = "", ""
    try:
        challenge = challenges.challenge_start(
            user=user,
            channel=channel,
            purpose=VerificationChallenge.Purpose.SIGN_IN,
            method=method,
        )
    except challenges.ChallengeRefused as refused:
        error = refused.message
    else:
        challenge_id = str(challenge.id)
    moved = flows.flow_advance(found.flow, option=option.key, challenge_id=challenge_id)
    if moved is None:
        # Another request (a second tab) moved the sign-in meanwhile: read it again.
        again = flow.pending(request, stage=flow.CHALLENGE)
        return (again or found), error
    return Pending(user, moved), error


def _finish(request: HttpRequest, found: Pending, remember: bool) -> HttpResponse:
    logger.info("second factor accepted for user %s", found.user.pk)
    return flow.signin_finish(request, found.user, found.flow, remember=remember)


def _code_fast_path(
    request: HttpRequest, found: Pending, service: ServiceSettings
) -> HttpResponse | None:
    state = found.flow
    method_type, _sep, method_id = str(state.get("option", "")).partition(":")
    remember = service.remember_devices_allowed and request.POST.get("remember") == "on"
    code = request.POST.get("code", "")
    if method_type == MethodType.PHONE_APP_OTP and service.method_app_code and method_id.isdigit():
        outcome = challenges.totp_check(method_id=int(method_id), user=found.user, code=code)
        asked = _code_asked(outcome, hardware_token=False)
    elif (
        method_type == MethodType.ONE_WAY_SMS and service.method_text and state.get("challenge_id")
    ):
        asked = SignInAsked.TEXT_CODE
        outcome = challenges.text_code_check(
            challenge_id=str(state.get("challenge_id")), user=found.user, code=code
        )
    else:
        return None
    _answer_logged(request, found.user, asked, outcome.status)
    if outcome.ok:
        return _finish(request, found, remember)
    return _show_again(request, found, outcome.message)


def _show_again(request: HttpRequest, found: Pending, error: str) -> HttpResponse:
    """Back to the challenge page with what went wrong (POST/redirect/GET: a reload of the
    page never posts the code again)."""
    flows.flow_advance(found.flow, answer_error=error)
    return redirect_for(request, reverse("signin_flow:verify"))


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    found = flow.pending(request)
    if found is None:
        return _expired(request)
    if found.flow.stage != flow.CHALLENGE:
        return redirect_for(request, flow.stage_url(found.flow))
    user = found.user
    if user_mfa(user).blocked_for_fraud_at is not None:
        return _fraud_blocked(request)
    service = ServiceSettings.load()
    # The common case first, without listing every option: a code for the option already
    # on screen (each check confirms the method is the user's own).
    code_posted = request.method == "POST" and request.POST.get("action") == "code"
    if code_posted:
        try:
            with transaction.atomic():
                fast = _code_fast_path(request, found, service)
        except flows.FlowMoved:
            return flow.moved_on(request)
        if fast is not None:
            return fast
    # Read once: for the options, and for the one on screen below.
    methods = user_methods(user)
    options = signin_options(user, service, methods)
    option = next(
        (o for o in options if o.key == found.flow.get("option")), None
    ) or default_option(user, options)
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
        if action == "passkey":
            # Checked against the user's passkeys as they are now, whichever option is on
            # screen: a key deleted since the page was shown is refused with a reason.
            try:
                with transaction.atomic():
                    return passkey_views.signin_passkey_answer(request, found)
            except flows.FlowMoved:
                return flow.moved_on(request)
        if action in ("code", "check"):
            # The check and the sign-in it finishes commit together: a request that fails
            # midway (a lost connection, a locked database) changed nothing.
            try:
                with transaction.atomic():
                    return _answer(request, found, service, option, action)
            except flows.FlowMoved:
                return flow.moved_on(request)
        if action == "resend" and option.channel not in ("app_code", "passkey"):
            found, error = _start(request, found, option)
            if error:
                return _show_again(request, found, error)
        return redirect_for(request, reverse("signin_flow:verify"))
    error = ""
    if option.channel not in ("app_code", "passkey") and not _live_challenge(found.flow, option):
        found, error = _start(request, found, option)
    if not error and found.flow.get("answer_error"):
        error = str(found.flow.get("answer_error"))
        flows.flow_advance(found.flow, drop=("answer_error",))
    challenge: VerificationChallenge | None = None
    if challenge_id := _live_challenge(found.flow, option):
        challenge = VerificationChallenge.objects.filter(pk=challenge_id, user=user).first()
    method = next((m for m in methods if m.pk == option.method_id), None)
    passkey_options = ""
    if option.channel == "passkey":
        # A new challenge each time the page is shown (after the error above was taken).
        current = flow.pending(request, stage=flow.CHALLENGE) or found
        passkey_options = passkey_views.signin_passkey_options(request, current, option.key)
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
            "passkey_options": passkey_options,
        },
    )


def _answer(
    request: HttpRequest,
    found: Pending,
    service: ServiceSettings,
    option: SignInOption,
    action: str,
) -> HttpResponse:
    """A code typed, or the poll (or the person) asking whether the call or the request
    was answered."""
    user = found.user
    remember = service.remember_devices_allowed and request.POST.get("remember") == "on"
    challenge_id = _live_challenge(found.flow, option)
    if action == "code" and option.channel in ("text", "app_code"):
        code = request.POST.get("code", "")
        asked = _ASKED_BY_CHANNEL[option.channel]
        if option.channel == "app_code":
            outcome = challenges.totp_check(method_id=option.method_id, user=user, code=code)
            asked = _code_asked(outcome, hardware_token=option.hardware_token)
        elif challenge_id:
            outcome = challenges.text_code_check(challenge_id=challenge_id, user=user, code=code)
        else:
            outcome = challenges.Check("expired", _("Request a new code."))
        _answer_logged(request, user, asked, outcome.status)
        if outcome.ok:
            return _finish(request, found, remember)
        return _show_again(request, found, outcome.message)
    if action == "check" and option.channel in ("call", "app_notification"):
        outcome = challenges.answer_take(challenge_id=challenge_id, user=user)
        _answer_logged(request, user, _ASKED_BY_CHANNEL[option.channel], outcome.status)
        if outcome.ok:
            return _finish(request, found, remember)
        if outcome.status == "pending":
            if is_htmx(request):
                return HttpResponse(status=204)
            return _show_again(request, found, _("We're still waiting for your answer."))
        if user_mfa(user).blocked_for_fraud_at is not None:
            return _fraud_blocked(request)
        if outcome.status == "used":
            # Taken by a request racing this one (the poll and a click).
            return flow.where_it_stands(request)
        # The page shows what happened and offers to try again.
        return _show_again(request, found, outcome.message)
    return redirect_for(request, reverse("signin_flow:verify"))


def _fraud_blocked(request: HttpRequest) -> HttpResponse:
    flow.pending_clear(request)
    messages.error(request, FRAUD_BLOCKED)
    return redirect_for(request, reverse("signin"))


@never_cache
@require_http_methods(["GET", "POST"])
def verify_other(request: HttpRequest) -> HttpResponse:
    """ "Other verification options": every option the user has and the admin allows."""
    found = flow.pending(request)
    if found is None:
        return _expired(request)
    if found.flow.stage != flow.CHALLENGE:
        return redirect_for(request, flow.stage_url(found.flow))
    options = signin_options(found.user, ServiceSettings.load())
    if request.method == "POST":
        chosen = next((o for o in options if o.key == request.POST.get("option")), None)
        if chosen is not None:
            if flows.flow_advance(found.flow, option=chosen.key, challenge_id="") is None:
                return flow.where_it_stands(request)
            return redirect("signin_flow:verify")
    return render(request, "selfservice/verify_other.html", {"options": options})
