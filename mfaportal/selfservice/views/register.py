""" "More information required": the registration wizard (DESIGN §5.2), as seed 000 and
seed 003 walk it.

Step 1 *How should we contact you?*; for the mobile app, *Set up* opens *Configure mobile
app*, whose *Finished* comes back to step 1 and *Contact me* sends the first request. Then
the verification, the backup phone for app users, and *Keep using your existing
applications* (an app password now, or none because no non-browser app will be used). The
step numbers are those of the steps this person is shown.

Nothing is saved until every step is verified; then one transaction saves the methods and
completes the registration (Enabled becomes Enforced). The wizard's state is the sign-in
flow's row (``selfservice/flow.py``); every step moves it with a conditional update, so the
approval poll, the person's click and a second tab cannot undo one another. The new app's
key waits in the row encrypted (AES-GCM, bound to the user).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mfaportal.core.htmx import is_htmx, redirect_for
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges, throttle, totp
from mfaportal.mfa.models import MethodType, ServiceSettings, VerificationChallenge
from mfaportal.mfa.models import VerificationMethod as Method
from mfaportal.mfa.phones import phone_international
from mfaportal.mfa.services.app_passwords import (
    AppPasswordRefused,
    app_password_create,
    app_password_service_choices,
    app_passwords_available,
    app_passwords_decline,
)
from mfaportal.mfa.services.methods import NewApp, NewPhone
from mfaportal.mfa.services.registration import registration_save
from mfaportal.mfa.shown_once import APP_PASSWORD, secret_hold, secret_take
from mfaportal.selfservice import flow, flows
from mfaportal.selfservice.flow import Pending
from mfaportal.selfservice.forms import AuthenticationPhoneForm, MobileAppForm, OfficePhoneForm

logger = logging.getLogger(__name__)
Channel = VerificationChallenge.Channel
REGISTER_CODE_LIMIT = throttle.Limit(
    count=5, window=throttle.LONGEST_LOCK, block=throttle.FIRST_LOCK * 15
)


def _pending(request: HttpRequest, stage: str = flow.REGISTER) -> Pending | HttpResponse:
    """The sign-in at this stage, or the answer for a browser whose sign-in stands
    elsewhere (Back, a reload after it moved on, a second tab) or has ended."""
    found = flow.pending(request)
    if found is None:
        return flow.expired(request)
    if found.flow.stage != stage:
        return redirect_for(request, flow.stage_url(found.flow))
    return found


def _reg(found: Pending) -> dict[str, Any]:
    reg = found.flow.get("reg")
    return dict(reg) if isinstance(reg, dict) else {}


def _moved(request: HttpRequest, found: Pending, **changes: Any) -> Pending | None:
    moved = flows.flow_advance(found.flow, **changes)
    return Pending(found.user, moved) if moved is not None else None


def _allowed(service: ServiceSettings) -> dict[str, bool]:
    return {
        "authentication_phone": service.method_text or service.method_call,
        "office_phone": service.method_call,
        "mobile_app": service.method_app_notification or service.method_app_code,
        "backup_phone": service.method_text or service.method_call,
        # Passkeys are not among the legacy service settings' options: always offered.
        "passkey": True,
    }


def steps_shown(reg: dict[str, Any], user: DirectoryUser, service: ServiceSettings) -> list[str]:
    """The steps this person goes through, in order: their numbers are the page titles'."""
    steps = ["contact", "verify"]
    primary = reg.get("primary") or {}
    if primary.get("kind") == Method.Kind.PASSKEY:
        steps = ["contact"]  # the passkey is verified as it registers
    if primary.get("kind") == Method.Kind.AUTHENTICATOR_APP and _allowed(service)["backup_phone"]:
        steps.append("backup")
    if app_passwords_available(user, service):
        steps.append("app_passwords")
    return steps


def _step_number(step: str, reg: dict[str, Any], user: DirectoryUser) -> int:
    return steps_shown(reg, user, ServiceSettings.load()).index(step) + 1


@never_cache
@require_http_methods(["GET"])
def more_information(request: HttpRequest) -> HttpResponse:
    found = _pending(request)
    if not isinstance(found, Pending):
        return found
    return render(request, "selfservice/more_information.html", {"pending_user": found.user})


def _forms(service: ServiceSettings, data: Any = None, chosen: str = "") -> dict[str, Any]:
    """Step 1's three sections; only the one the person chose reads (and judges) the post,
    so a mistake in it never marks the sections they left alone."""

    def bound(contact: str) -> Any:
        return data if contact == chosen else None

    return {
        "auth_form": AuthenticationPhoneForm(
            bound("authentication_phone"),
            prefix="auth",
            text_allowed=service.method_text,
            call_allowed=service.method_call,
        ),
        "office_form": OfficePhoneForm(bound("office_phone"), prefix="office"),
        "app_form": MobileAppForm(
            bound("mobile_app"),
            prefix="app",
            notification_allowed=service.method_app_notification,
            code_allowed=service.method_app_code,
        ),
    }


def _configured_app(reg: dict[str, Any]) -> dict[str, Any] | None:
    """The mobile app set up (QR code scanned, *Finished*) and waiting to be verified."""
    primary = reg.get("primary") or {}
    if primary.get("kind") == Method.Kind.AUTHENTICATOR_APP and primary.get("configured"):
        return primary
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    """Step 1: How should we contact you?"""
    found = _pending(request)
    if not isinstance(found, Pending):
        return found
    service = ServiceSettings.load()
    allowed = _allowed(service)
    reg = _reg(found)
    app = _configured_app(reg)
    posted = request.method == "POST"
    chosen = request.POST.get("contact", "") if posted else ""
    if posted and request.POST.get("action") == "setup":
        chosen = "mobile_app"  # the button sits in the mobile app's section
    if posted and request.POST.get("action") == "passkey":
        chosen = "passkey"  # the button sits in the passkey's section
    forms = _forms(service, request.POST if posted else None, chosen)
    if not posted and app is not None:
        forms["app_form"] = MobileAppForm(
            prefix="app",
            initial={"mode": app["mode"]},
            notification_allowed=service.method_app_notification,
            code_allowed=service.method_app_code,
        )
    error = ""
    status = 200
    if posted:
        action = request.POST.get("action", "contact")
        if not allowed.get(chosen):
            error = _("Choose how we should contact you.")
        elif chosen == "passkey":
            return redirect_for(request, reverse("signin_flow:register_passkey"))
        elif chosen == "authentication_phone" and forms["auth_form"].is_valid():
            data = forms["auth_form"].cleaned_data
            primary = {
                "kind": Method.Kind.AUTHENTICATION_PHONE,
                "phone": data["e164"],
                "ext": "",
                "how": data["how"],
            }
            return _verify_phone(request, found, {"primary": primary, "verifying": "primary"})
        elif chosen == "office_phone" and forms["office_form"].is_valid():
            data = forms["office_form"].cleaned_data
            primary = {
                "kind": Method.Kind.OFFICE_PHONE,
                "phone": data["e164"],
                "ext": data["extension"],
                "how": "call",
            }
            return _verify_phone(request, found, {"primary": primary, "verifying": "primary"})
        elif chosen == "mobile_app" and forms["app_form"].is_valid():
            mode = forms["app_form"].cleaned_data["mode"]
            if action == "setup" or app is None:
                if action != "setup":
                    error = _("Set up the mobile app first: choose Set up and scan the code.")
                else:
                    return _app_setup(request, found, reg, mode)
            else:
                return _app_contact(request, found, {"primary": {**app, "mode": mode}}, mode)
        status = 400
    return render(
        request,
        "selfservice/register_contact.html",
        {
            **forms,
            "allowed": allowed,
            "chosen": chosen or ("mobile_app" if app else _first_allowed(allowed)),
            "app_configured": app is not None,
            "error": error,
        },
        status=status,
    )


def _first_allowed(allowed: dict[str, bool]) -> str:
    return next(
        (k for k in ("authentication_phone", "office_phone", "mobile_app") if allowed[k]), ""
    )


def _app_setup(
    request: HttpRequest, found: Pending, reg: dict[str, Any], mode: str
) -> HttpResponse:
    """*Set up*: a key for the app (the one already shown, if the person comes back), then
    *Configure mobile app*."""
    primary = reg.get("primary") or {}
    if primary.get("kind") != Method.Kind.AUTHENTICATOR_APP:
        secret = totp.secret_generate()
        ciphertext, key_id = totp.secret_seal(secret, object_id=str(found.user.object_id))
        primary = {"ct": base64.b64encode(ciphertext).decode(), "kid": key_id}
    primary = {
        "kind": Method.Kind.AUTHENTICATOR_APP,
        "mode": mode,
        "ct": primary["ct"],
        "kid": primary["kid"],
        "configured": False,
    }
    if _moved(request, found, reg={"primary": primary, "verifying": ""}) is None:
        return flow.where_it_stands(request)
    return redirect_for(request, reverse("signin_flow:register_app"))


def _app_contact(
    request: HttpRequest, found: Pending, reg: dict[str, Any], mode: str
) -> HttpResponse:
    """*Contact me* with the app configured: the first request to approve, or a code."""
    reg["verifying"] = "primary"
    reg["challenge_id"] = ""
    if mode == "notification":
        try:
            challenge = challenges.challenge_start(
                user=found.user,
                channel=Channel.APP_NOTIFICATION,
                purpose=VerificationChallenge.Purpose.REGISTRATION,
            )
        except challenges.ChallengeRefused as refused:
            return render(request, "selfservice/register_problem.html", {"error": refused.message})
        reg["challenge_id"] = str(challenge.id)
    if _moved(request, found, reg=reg) is None:
        return flow.where_it_stands(request)
    return redirect_for(request, reverse("signin_flow:register_verify"))


def _verify_phone(request: HttpRequest, found: Pending, reg: dict[str, Any]) -> HttpResponse:
    target = reg[reg["verifying"]]
    try:
        challenge = challenges.challenge_start(
            user=found.user,
            channel=Channel.TEXT if target["how"] == "text" else Channel.CALL,
            purpose=VerificationChallenge.Purpose.REGISTRATION,
            phone_number=target["phone"],
            extension=target.get("ext", ""),
        )
    except challenges.ChallengeRefused as refused:
        return render(request, "selfservice/register_problem.html", {"error": refused.message})
    reg["challenge_id"] = str(challenge.id)
    if _moved(request, found, reg=reg) is None:
        return flow.where_it_stands(request)
    return redirect_for(request, reverse("signin_flow:register_verify"))


def pending_app_secret(user: DirectoryUser, app: dict[str, Any]) -> str:
    return totp.secret_open(
        base64.b64decode(app["ct"]), key_id=app["kid"], object_id=str(user.object_id)
    )


def app_setup_context(user: DirectoryUser, secret: str) -> dict[str, Any]:
    uri = totp.provisioning_uri(secret, account_name=user.user_principal_name)
    return {
        "qr_svg": totp.qr_svg(uri, title=_("QR code for your authenticator app")),
        "account_name": f"{totp.issuer_name()}:{user.user_principal_name}",
        "secret_key": totp.secret_display(secret),
        "otpauth_uri": uri,
    }


@never_cache
@require_http_methods(["GET", "POST"])
def configure_app(request: HttpRequest) -> HttpResponse:
    """Configure mobile app: the QR code plus the manual account name and secret key;
    *Finished* goes back to step 1, where *Contact me* sends the first request."""
    found = _pending(request)
    if not isinstance(found, Pending):
        return found
    reg = _reg(found)
    app = reg.get("primary") or {}
    if app.get("kind") != Method.Kind.AUTHENTICATOR_APP:
        return redirect_for(request, reverse("signin_flow:register"))
    if request.method == "POST":
        if not app.get("configured"):
            reg["primary"] = {**app, "configured": True}
            if _moved(request, found, reg=reg) is None:
                return flow.where_it_stands(request)
        return redirect_for(request, reverse("signin_flow:register"))
    context = app_setup_context(found.user, pending_app_secret(found.user, app))
    return render(request, "selfservice/register_app.html", {**context, "mode": app["mode"]})


def _answer_problem(challenge: VerificationChallenge | None) -> str:
    """Why a call or a request is no longer waiting, read from the challenge itself."""
    if challenge is None:
        return ""
    if challenge.status == VerificationChallenge.Status.DENIED:
        return _("The request was denied.")
    if challenge.status == VerificationChallenge.Status.FRAUD:
        return _("The request was denied and reported as fraud.")
    if challenge.status == VerificationChallenge.Status.PENDING and challenge.is_expired:
        return _("We didn't hear from you. Try again.")
    return ""


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Step 2 (or the backup phone's check): the code, the call, or the first approval."""
    found = _pending(request)
    if not isinstance(found, Pending):
        return found
    user = found.user
    reg = _reg(found)
    which = str(reg.get("verifying") or "")
    target = reg.get(which) if which else None
    if not target:
        return redirect_for(request, flow.stage_url(found.flow))
    error = ""
    kind = target["kind"]
    is_app = kind == Method.Kind.AUTHENTICATOR_APP
    waits = (is_app and target["mode"] == "notification") or (
        not is_app and target["how"] == "call"
    )
    challenge_id = str(reg.get("challenge_id") or "")
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "resend" and not is_app:
            return _verify_phone(request, found, reg)
        if action == "resend" and waits:
            return _app_contact(request, found, reg, target["mode"])
        # The check and the step it moves the registration on commit together: a request
        # that fails midway (a lost connection, a locked database) changed nothing.
        try:
            with transaction.atomic():
                answered = _answer(request, found, reg, which, waits=waits)
        except flows.FlowMoved:
            return flow.moved_on(request)
        if isinstance(answered, HttpResponse):
            return answered
        # POST/redirect/GET: the page says what went wrong; a reload posts nothing again.
        flows.flow_advance(found.flow, verify_error=answered)
        return redirect_for(request, reverse("signin_flow:register_verify"))
    if found.flow.get("verify_error"):
        error = str(found.flow.get("verify_error"))
        flows.flow_advance(found.flow, drop=("verify_error",))
    challenge: VerificationChallenge | None = None
    if challenge_id:
        challenge = VerificationChallenge.objects.filter(pk=challenge_id, user=user).first()
    return render(
        request,
        "selfservice/register_verify.html",
        {
            "target": target,
            "which": which,
            "is_app": is_app,
            "waits": waits,
            "challenge": challenge,
            "waiting": challenge is not None
            and challenge.status == VerificationChallenge.Status.PENDING
            and not challenge.is_expired,
            "number": phone_international(target.get("phone", "")) if not is_app else "",
            "error": error or (_answer_problem(challenge) if waits else ""),
            "step_number": _step_number("verify" if which == "primary" else "backup", reg, user),
        },
    )


def _answer(
    request: HttpRequest, found: Pending, reg: dict[str, Any], which: str, *, waits: bool
) -> HttpResponse | str:
    """Check the answer to the step: the response that moves on, or what went wrong."""
    user, target = found.user, reg[which]
    challenge_id = str(reg.get("challenge_id") or "")
    if waits:
        outcome = challenges.answer_take(challenge_id=challenge_id, user=user)
        if outcome.ok:
            return _verified(request, found, reg, which, step=None)
        if outcome.status == "pending":
            if is_htmx(request):
                return HttpResponse(status=204)
            return _("We're still waiting for your answer.")
        # Taken already (the poll and a click racing) or refused: the page shows where the
        # registration now stands, and why a request is no longer waiting.
        return flow.where_it_stands(request)
    code = request.POST.get("code", "")
    if target["kind"] == Method.Kind.AUTHENTICATOR_APP:
        # The attempt is taken before the code is checked: parallel guesses get no more.
        counters = [throttle.Counter(f"register-code:user:{user.pk}", REGISTER_CODE_LIMIT)]
        if blocked := throttle.attempt_reserve(counters):
            return throttle.lockout_message(blocked)
        step = totp.matching_step(pending_app_secret(user, target), code)
        if step is not None:
            throttle.attempt_succeeded(counters)
            return _verified(request, found, reg, which, step=step)
        throttle.attempt_failed(counters)
        return _("That code isn't right. Check the time on your phone and try again.")
    outcome = challenges.text_code_check(challenge_id=challenge_id, user=user, code=code)
    if outcome.ok:
        return _verified(request, found, reg, which, step=None)
    if outcome.status == "used":
        return flow.where_it_stands(request)
    return outcome.message


def _verified(
    request: HttpRequest, found: Pending, reg: dict[str, Any], which: str, *, step: int | None
) -> HttpResponse:
    reg[which] = {**reg[which], "verified": True, "step": step}
    reg["verifying"] = ""
    reg["challenge_id"] = ""
    primary = reg["primary"]
    service = ServiceSettings.load()
    if (
        which == "primary"
        and primary["kind"] == Method.Kind.AUTHENTICATOR_APP
        and _allowed(service)["backup_phone"]
    ):
        flows.flow_move(found.flow, reg=reg)
        return redirect_for(request, reverse("signin_flow:register_backup"))
    return _finish(request, found, reg)


@never_cache
@require_http_methods(["GET", "POST"])
def backup_phone(request: HttpRequest) -> HttpResponse:
    """Step 3 for app users: In case you lose access to the mobile app."""
    found = _pending(request)
    if not isinstance(found, Pending):
        return found
    reg = _reg(found)
    if not (reg.get("primary") or {}).get("verified"):
        return redirect_for(request, flow.stage_url(found.flow))
    service = ServiceSettings.load()
    form = AuthenticationPhoneForm(
        request.POST if request.method == "POST" else None,
        prefix="backup",
        text_allowed=service.method_text,
        call_allowed=service.method_call,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        reg["backup"] = {
            "kind": Method.Kind.AUTHENTICATION_PHONE,
            "phone": data["e164"],
            "ext": "",
            "how": data["how"],
        }
        reg["verifying"] = "backup"
        return _verify_phone(request, found, reg)
    return render(
        request,
        "selfservice/register_backup.html",
        {"form": form, "step_number": _step_number("backup", reg, found.user)},
        status=400 if form.errors else 200,
    )


def _default_for(target: dict[str, Any]) -> str:
    kind = target["kind"]
    if kind == Method.Kind.AUTHENTICATOR_APP:
        return (
            MethodType.PHONE_APP_NOTIFICATION
            if target["mode"] == "notification"
            else MethodType.PHONE_APP_OTP
        )
    if kind == Method.Kind.OFFICE_PHONE:
        return MethodType.TWO_WAY_VOICE_OFFICE
    return (
        MethodType.ONE_WAY_SMS if target.get("how") == "text" else MethodType.TWO_WAY_VOICE_MOBILE
    )


def _finish(request: HttpRequest, found: Pending, reg: dict[str, Any]) -> HttpResponse:
    """Every step verified: save the registration (Enabled becomes Enforced), once."""
    user = found.user
    primary = reg["primary"]
    phones: list[NewPhone] = []
    app = None
    for target in (primary, reg.get("backup")):
        if not target or not target.get("verified"):
            continue
        if target["kind"] == Method.Kind.AUTHENTICATOR_APP:
            app = NewApp(
                mode=target["mode"],
                secret=pending_app_secret(user, target),
                last_used_step=target.get("step"),
                device_name=_("Authenticator app"),
            )
        else:
            phones.append(
                NewPhone(
                    kind=target["kind"],
                    phone_number=target["phone"],
                    extension=target.get("ext", ""),
                )
            )
    app_step = app_passwords_available(user)
    # The app's key is in the methods from now on: the row keeps what step numbers need.
    saved = {
        which: {key: value for key, value in target.items() if key not in ("ct", "kid")}
        for which, target in reg.items()
        if which in ("primary", "backup") and target
    }
    with transaction.atomic():
        # FlowMoved when a request racing this one verified the same step: that one saves.
        moved = flows.flow_move(
            found.flow,
            stage=flow.APP_PASSWORDS,
            reg={**saved, "verifying": ""},
            registered=True,
            offer_app_passwords=app_step,
        )
        registration_save(
            user=user,
            phones=phones,
            app=app,
            default_method=_default_for(primary),
            context=flow.self_service_context(request, user),
        )
    user.refresh_from_db()
    if app_step:
        return redirect_for(request, reverse("signin_flow:register_app_passwords"))
    return flow.signin_finish(request, user, moved)


@never_cache
@require_http_methods(["GET", "POST"])
def app_passwords_step(request: HttpRequest) -> HttpResponse:
    """Keep using your existing applications (seed 004): the password now works only in a
    browser; create an app password for the apps that can't ask for verification, or say
    that none will be used. A created one is shown once, from a one-time read: a reload or
    Back shows that it is no longer shown, and creates nothing."""
    found = _pending(request, stage=flow.APP_PASSWORDS)
    if not isinstance(found, Pending):
        return found
    try:
        with transaction.atomic():
            return _app_passwords_answer(request, found)
    except flows.FlowMoved:
        return flow.moved_on(request)


def _app_passwords_answer(request: HttpRequest, found: Pending) -> HttpResponse:
    user = found.user
    if not found.flow.get("offer_app_passwords"):
        # Not offered (the admin allows none): the registration only has the sign-in left.
        return flow.signin_finish(request, user, found.flow)
    context = flow.self_service_context(request, user)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "create" and not found.flow.get("app_password_created"):
            claimed = flows.flow_move(found.flow, app_password_created=True)
            name = request.POST.get("name", "").strip() or _("Created at registration")
            service = request.POST.get("service", "")
            try:
                record, value = app_password_create(
                    user=user, name=name, service=service, context=context
                )
            except AppPasswordRefused as refused:
                flows.flow_advance(claimed, drop=("app_password_created",))
                return _app_passwords_page(
                    request, found, error=refused.message, name=name, service=service
                )
            held = secret_hold(reader=user, purpose=APP_PASSWORD, value=value, label=record.name)
            flows.flow_move(claimed, app_password_secret=str(held), app_password_name=record.name)
        elif action == "decline" and not found.flow.get("app_password_created"):
            app_passwords_decline(user=user, context=context)
            return flow.signin_finish(request, user, found.flow)
        elif action == "done":
            return flow.signin_finish(request, user, found.flow)
        return redirect_for(request, reverse("signin_flow:register_app_passwords"))
    return _app_passwords_page(request, found)


def _app_passwords_page(
    request: HttpRequest, found: Pending, *, error: str = "", name: str = "", service: str = ""
) -> HttpResponse:
    created = bool(found.flow.get("app_password_created"))
    shown = None
    if created and found.flow.get("app_password_secret"):
        shown = secret_take(
            secret_id=found.flow.get("app_password_secret"),
            reader=found.user,
            purpose=APP_PASSWORD,
        )
    reg = found.flow.get("reg") or {}
    binding_required = ServiceSettings.load().app_password_binding_required
    return render(
        request,
        "selfservice/register_app_passwords.html",
        {
            "step_number": _step_number("app_passwords", reg, found.user),
            "created": created,
            "app_password": shown.value if shown else "",
            "app_password_name": found.flow.get("app_password_name", ""),
            "error": error,
            "name": name,
            "service": service,
            "binding_required": binding_required,
            "service_choices": app_password_service_choices(binding_required=binding_required),
        },
        status=400 if error else 200,
    )
