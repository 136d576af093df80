"""Passkeys and security keys on the person's own pages: added from *Additional security
verification* (after the password again, as every method change), at enrolment
(*Security key or passkey* in step 1), and answered at the sign-in challenge.

Each page hands the browser the WebAuthn options (``static/js/passkeys.js`` calls
``navigator.credentials``); the challenge waits in the flow and is dropped when an answer
is checked, so an answer is checked once.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from mfaportal.core.audit import ChangeContext
from mfaportal.core.htmx import redirect_for
from mfaportal.core.permissions import signed_in_required
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa import passkeys
from mfaportal.mfa.models import (
    MethodType,
    SignInAsked,
    SignInClient,
    SignInReason,
    SignInResult,
    VerificationMethod,
)
from mfaportal.mfa.passkeys import PasskeyRefused
from mfaportal.mfa.services.app_passwords import app_passwords_available
from mfaportal.mfa.services.methods import MethodChangeRefused
from mfaportal.mfa.services.passkeys import (
    passkey_add,
    passkey_registration_save,
    passkey_rename,
    passkey_signin_check,
)
from mfaportal.mfa.services.signin_log import signin_record
from mfaportal.selfservice import flow, flows
from mfaportal.selfservice.flow import Pending
from mfaportal.selfservice.views.elsewhere import kept_by_the_directory
from mfaportal.selfservice.views.setup import (
    CHANGE_TTL,
    needs_reauthentication,
    own_flow,
    reauthentication_ask,
)

# Where a flow keeps the challenge (the keyword the flow_advance calls below pass).
CHALLENGE_KEY = "passkey_challenge"


def _rp(request: HttpRequest) -> passkeys.RelyingParty:
    return passkeys.relying_party(host=request.get_host(), scheme=request.scheme or "https")


def _context(request: HttpRequest) -> ChangeContext:
    return flow.self_service_context(request, signed_in_user(request))


# --- Additional security verification ----------------------------------------------------


@signed_in_required
@require_POST
@kept_by_the_directory
def passkey_setup(request: HttpRequest) -> HttpResponse:
    """*Add security key or passkey*: after the password again if it is not fresh."""
    if needs_reauthentication(request):
        return reauthentication_ask(request, "passkey_add", {})
    return passkey_setup_start(request)


def passkey_setup_start(request: HttpRequest, error: str = "") -> HttpResponse:
    """A new challenge for this browser (replacing any earlier one), then the page that asks
    the authenticator, saying ``error`` when this is another try."""
    user = signed_in_user(request)
    ceremony = passkeys.registration_begin(user=user, rp=_rp(request))
    flows.flow_start(
        request,
        kind=flows.Kind.PASSKEY_SETUP,
        user=user,
        ttl=CHANGE_TTL,
        data={"options": ceremony.options, CHALLENGE_KEY: ceremony.challenge, "error": error},
    )
    return redirect("selfservice:passkey_new")


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def passkey_new(request: HttpRequest) -> HttpResponse:
    """The authenticator's answer, checked against the challenge this page was given."""
    setup_flow = own_flow(request, flows.Kind.PASSKEY_SETUP)
    if setup_flow is None or not setup_flow.get(CHALLENGE_KEY):
        return redirect("selfservice:setup")
    error = ""
    if request.method == "POST":
        if needs_reauthentication(request):
            return reauthentication_ask(request, "passkey_add", {})
        user = signed_in_user(request)
        try:
            with transaction.atomic():
                # Of two posts of one answer, the first ends the flow; the other finds it
                # moved. A refused answer undoes this, and the next try gets a new challenge.
                flows.flow_close(request, setup_flow)
                new = passkeys.registration_finish(
                    response=request.POST.get("credential", ""),
                    challenge=str(setup_flow.get(CHALLENGE_KEY)),
                    rp=_rp(request),
                )
                passkey_add(
                    user=user,
                    passkey=new,
                    name=request.POST.get("name", ""),
                    context=_context(request),
                )
        except flows.FlowMoved:
            return redirect("selfservice:setup")
        except (PasskeyRefused, MethodChangeRefused) as refused:
            error = refused.message
        else:
            messages.success(request, _("Your security key or passkey has been registered."))
            return redirect("selfservice:setup")
        return passkey_setup_start(request, error)
    return render(
        request,
        "selfservice/passkey_new.html",
        {"options": setup_flow.get("options"), "error": setup_flow.get("error", "")},
    )


@signed_in_required
@require_POST
@kept_by_the_directory
def passkey_rename_view(request: HttpRequest, method_id: int) -> HttpResponse:
    user = signed_in_user(request)
    if not user.methods.filter(pk=method_id, kind=VerificationMethod.Kind.PASSKEY).exists():
        return render(request, "404.html", status=404)
    try:
        renamed = passkey_rename(
            user=user,
            method_id=method_id,
            name=request.POST.get("name", ""),
            context=_context(request),
        )
    except MethodChangeRefused as refused:
        messages.error(request, refused.message)
        return redirect("selfservice:setup")
    if not renamed:
        return render(request, "404.html", status=404)
    messages.success(request, _("The security key or passkey has been renamed."))
    return redirect("selfservice:setup")


# --- the sign-in challenge -----------------------------------------------------------------


def signin_passkey_options(request: HttpRequest, found: Pending, option_key: str) -> str:
    """A new challenge for the challenge page (kept in the sign-in's flow); the options."""
    ceremony = passkeys.authentication_begin(user=found.user, rp=_rp(request))
    flows.flow_advance(found.flow, option=option_key, passkey_challenge=ceremony.challenge)
    return ceremony.options


def signin_passkey_answer(request: HttpRequest, found: Pending) -> HttpResponse:
    """The authenticator's answer at sign-in: the sign-in finishes, or the page says why
    not. Call inside a transaction (the check and the sign-in commit together)."""
    challenge = str(found.flow.get(CHALLENGE_KEY) or "")
    # The challenge is spent whatever the answer (FlowMoved if another request spent it).
    spent = flows.flow_move(found.flow, drop=(CHALLENGE_KEY,))
    error = _("Request a new sign-in with your security key or passkey.")
    reason = SignInReason.EXPIRED
    if challenge:
        method_type, _sep, shown = str(found.flow.get("option", "")).partition(":")
        try:
            passkey_signin_check(
                user=found.user,
                response=request.POST.get("credential", ""),
                challenge=challenge,
                rp=_rp(request),
                shown_method_id=int(shown)
                if method_type == MethodType.PASSKEY and shown.isdigit()
                else None,
            )
        except PasskeyRefused as refused:
            error = refused.message
            reason = SignInReason.LOCKED if refused.locked else SignInReason.NOT_ALLOWED
        else:
            _logged(request, found, SignInResult.SUCCESS, SignInReason.NONE)
            return flow.signin_finish(request, found.user, spent)
    _logged(request, found, SignInResult.FAILURE, reason)
    flows.flow_advance(spent, answer_error=error)
    return redirect_for(request, reverse("signin_flow:verify"))


def _logged(
    request: HttpRequest, found: Pending, result: SignInResult, reason: SignInReason
) -> None:
    """A passkey's answer at sign-in, in the sign-in log (issue 16.5)."""
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked.PASSKEY,
        result=result,
        reason=reason,
        user=found.user,
        address=flow.client_ip(request),
    )


# --- enrolment: More information required, step 1 ------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def register_passkey(request: HttpRequest) -> HttpResponse:
    """Step 1 with *Security key or passkey* chosen: the authenticator registers, and that
    completes the registration (a passkey proves both factors, so no backup phone is asked)."""
    found = flow.pending(request)
    if found is None:
        return flow.expired(request)
    if found.flow.stage != flow.REGISTER:
        return redirect_for(request, flow.stage_url(found.flow))
    error = ""
    if request.method == "POST":
        try:
            with transaction.atomic():
                return _register_answer(request, found)
        except flows.FlowMoved:
            return flow.where_it_stands(request)
        except (PasskeyRefused, MethodChangeRefused) as refused:
            error = refused.message
        again = flow.pending(request, stage=flow.REGISTER)
        if again is None:
            return flow.where_it_stands(request)
        found = again
    ceremony = passkeys.registration_begin(user=found.user, rp=_rp(request))
    if flows.flow_advance(found.flow, passkey_challenge=ceremony.challenge) is None:
        return flow.where_it_stands(request)
    return render(
        request,
        "selfservice/register_passkey.html",
        {"options": ceremony.options, "error": error},
        status=400 if error else 200,
    )


def _register_answer(request: HttpRequest, found: Pending) -> HttpResponse:
    user = found.user
    challenge = str(found.flow.get(CHALLENGE_KEY) or "")
    if not challenge:
        raise PasskeyRefused(_("Request a new registration of your security key or passkey."))
    new = passkeys.registration_finish(
        response=request.POST.get("credential", ""), challenge=challenge, rp=_rp(request)
    )
    app_step = app_passwords_available(user)
    moved = flows.flow_move(
        found.flow,
        stage=flow.APP_PASSWORDS,
        drop=(CHALLENGE_KEY,),
        reg={"primary": {"kind": VerificationMethod.Kind.PASSKEY, "verified": True}},
        registered=True,
        offer_app_passwords=app_step,
    )
    passkey_registration_save(
        user=user,
        passkey=new,
        name=request.POST.get("name", ""),
        context=flow.self_service_context(request, user),
    )
    user.refresh_from_db()
    if app_step:
        return redirect_for(request, reverse("signin_flow:register_app_passwords"))
    return flow.signin_finish(request, user, moved)
