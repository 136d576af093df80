""" "More information required": the registration wizard (DESIGN §5.2).

Nothing is saved until every step is verified; then one transaction saves the methods and
completes the registration (Enabled becomes Enforced), and only then is the user signed in.
The new app's key waits in the session encrypted (AES-GCM, bound to the user).
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from mfaportal.core.htmx import is_htmx
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa import challenges, throttle, totp
from mfaportal.mfa.crypto import decrypt_secret, encrypt_secret
from mfaportal.mfa.models import (
    AppPassword,
    MethodType,
    ServiceSettings,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.phones import phone_international
from mfaportal.mfa.recovery import recovery_contacts
from mfaportal.mfa.services.app_passwords import (
    AppPasswordRefused,
    app_password_create,
    app_passwords_available,
)
from mfaportal.mfa.services.methods import NewApp, NewPhone
from mfaportal.mfa.services.registration import registration_save
from mfaportal.selfservice import flow
from mfaportal.selfservice.forms import (
    AuthenticationPhoneForm,
    CodeForm,
    MobileAppForm,
    OfficePhoneForm,
)
from mfaportal.selfservice.views.recovery import NEXT_KEY as RECOVERY_NEXT_KEY

logger = logging.getLogger(__name__)
Channel = VerificationChallenge.Channel
REGISTER_CODE_LIMIT = throttle.Limit(
    count=5, window=throttle.LONGEST_LOCK, block=throttle.FIRST_LOCK * 15
)


def _user(request: HttpRequest) -> DirectoryUser | None:
    return flow.pending_user(request, stage=flow.REGISTER)


def _reg(request: HttpRequest) -> dict[str, Any]:
    state = flow.pending_state(request) or {}
    reg = state.get("reg")
    return dict(reg) if isinstance(reg, dict) else {}


def _save_reg(request: HttpRequest, reg: dict[str, Any]) -> None:
    flow.pending_update(request, reg=reg)


def _expired(request: HttpRequest) -> HttpResponse:
    from mfaportal.selfservice.views.signin import _expired as expired

    return expired(request)


def _allowed(service: ServiceSettings) -> dict[str, bool]:
    return {
        "authentication_phone": service.method_text or service.method_call,
        "office_phone": service.method_call,
        "mobile_app": service.method_app_notification or service.method_app_code,
        "backup_phone": service.method_text or service.method_call,
    }


@never_cache
@require_http_methods(["GET"])
def more_information(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return _expired(request)
    return render(request, "selfservice/more_information.html", {"pending_user": user})


def _forms(
    request: HttpRequest, service: ServiceSettings, data: Any = None, chosen: str = ""
) -> dict[str, Any]:
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


@never_cache
@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest) -> HttpResponse:
    """Step 1: How should we contact you?"""
    user = _user(request)
    if user is None:
        return _expired(request)
    service = ServiceSettings.load()
    allowed = _allowed(service)
    chosen = request.POST.get("contact", "") if request.method == "POST" else ""
    forms = _forms(request, service, request.POST if request.method == "POST" else None, chosen)
    error = ""
    if request.method == "POST":
        if not allowed.get(chosen):
            error = _("Choose how we should contact you.")
        elif chosen == "authentication_phone" and forms["auth_form"].is_valid():
            data = forms["auth_form"].cleaned_data
            primary = {
                "kind": VerificationMethod.Kind.AUTHENTICATION_PHONE,
                "phone": data["e164"],
                "ext": "",
                "how": data["how"],
            }
            return _verify_phone(request, user, {"primary": primary, "verifying": "primary"})
        elif chosen == "office_phone" and forms["office_form"].is_valid():
            data = forms["office_form"].cleaned_data
            primary = {
                "kind": VerificationMethod.Kind.OFFICE_PHONE,
                "phone": data["e164"],
                "ext": data["extension"],
                "how": "call",
            }
            return _verify_phone(request, user, {"primary": primary, "verifying": "primary"})
        elif chosen == "mobile_app" and forms["app_form"].is_valid():
            secret = totp.secret_generate()
            ciphertext, key_id = totp.secret_seal(secret, object_id=str(user.object_id))
            primary = {
                "kind": VerificationMethod.Kind.AUTHENTICATOR_APP,
                "mode": forms["app_form"].cleaned_data["mode"],
                "ct": base64.b64encode(ciphertext).decode(),
                "kid": key_id,
            }
            _save_reg(request, {"primary": primary, "verifying": "primary"})
            return redirect("signin_flow:register_app")
    return render(
        request,
        "selfservice/register_contact.html",
        {**forms, "allowed": allowed, "chosen": chosen or _first_allowed(allowed), "error": error},
    )


def _first_allowed(allowed: dict[str, bool]) -> str:
    return next(
        (k for k in ("authentication_phone", "office_phone", "mobile_app") if allowed[k]), ""
    )


def _verify_phone(request: HttpRequest, user: DirectoryUser, reg: dict[str, Any]) -> HttpResponse:
    target = reg[reg["verifying"]]
    try:
        challenge = challenges.challenge_start(
            user=user,
            channel=Channel.TEXT if target["how"] == "text" else Channel.CALL,
            purpose=VerificationChallenge.Purpose.REGISTRATION,
            phone_number=target["phone"],
            extension=target.get("ext", ""),
        )
    except challenges.ChallengeRefused as refused:
        _save_reg(request, reg)
        return render(request, "selfservice/register_problem.html", {"error": refused.message})
    reg["challenge_id"] = str(challenge.id)
    _save_reg(request, reg)
    return redirect("signin_flow:register_verify")


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
    """Configure mobile app: the QR code plus the manual account name and secret key."""
    user = _user(request)
    reg = _reg(request)
    app = reg.get("primary") or {}
    if user is None:
        return _expired(request)
    if app.get("kind") != VerificationMethod.Kind.AUTHENTICATOR_APP:
        return redirect("signin_flow:register")
    if request.method == "POST":
        if app["mode"] == "notification":
            try:
                challenge = challenges.challenge_start(
                    user=user,
                    channel=Channel.APP_NOTIFICATION,
                    purpose=VerificationChallenge.Purpose.REGISTRATION,
                )
            except challenges.ChallengeRefused as refused:
                return render(
                    request, "selfservice/register_problem.html", {"error": refused.message}
                )
            reg["challenge_id"] = str(challenge.id)
            _save_reg(request, reg)
        return redirect("signin_flow:register_verify")
    context = app_setup_context(user, pending_app_secret(user, app))
    return render(request, "selfservice/register_app.html", {**context, "mode": app["mode"]})


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Step 2 (or the backup phone's check): the code, the call, or the first approval."""
    user = _user(request)
    if user is None:
        return _expired(request)
    reg = _reg(request)
    which = str(reg.get("verifying") or "")
    target = reg.get(which) if which else None
    if not target:
        return redirect("signin_flow:register")
    error = ""
    kind = target["kind"]
    is_app = kind == VerificationMethod.Kind.AUTHENTICATOR_APP
    waits = (is_app and target["mode"] == "notification") or (
        not is_app and target["how"] == "call"
    )
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "resend" and not is_app:
            return _verify_phone(request, user, reg)
        if action == "resend" and waits:
            return configure_app(request)
        if waits:
            outcome = challenges.answer_take(challenge_id=reg.get("challenge_id", ""), user=user)
            if outcome.status == "pending":
                if is_htmx(request):
                    return HttpResponse(status=204)
                error = _("We're still waiting for your answer.")
            elif outcome.ok:
                return _verified(request, user, reg, which, step=None)
            else:
                error = outcome.message
                if is_htmx(request):
                    return HttpResponseClientRedirect(request.path)
        else:
            form = CodeForm(request.POST)
            code = request.POST.get("code", "")
            if is_app:
                key = f"register-code:user:{user.pk}"
                if blocked := throttle.bucket_blocked_for([key]):
                    error = throttle.lockout_message(blocked)
                else:
                    step = totp.matching_step(pending_app_secret(user, target), code)
                    if step is not None:
                        return _verified(request, user, reg, which, step=step)
                    throttle.bucket_hit(key, REGISTER_CODE_LIMIT)
                    error = _("That code isn't right. Check the time on your phone and try again.")
            else:
                outcome = challenges.text_code_check(
                    challenge_id=reg.get("challenge_id", ""), user=user, code=code
                )
                if outcome.ok:
                    return _verified(request, user, reg, which, step=None)
                error = outcome.message
            del form
    challenge: VerificationChallenge | None = None
    if reg.get("challenge_id"):
        challenge = VerificationChallenge.objects.filter(pk=reg["challenge_id"], user=user).first()
    return render(
        request,
        "selfservice/register_verify.html",
        {
            "target": target,
            "which": which,
            "is_app": is_app,
            "waits": waits,
            "challenge": challenge,
            "number": phone_international(target.get("phone", "")) if not is_app else "",
            "error": error,
            "step_number": 2 if which == "primary" else 3,
        },
    )


def _verified(
    request: HttpRequest, user: DirectoryUser, reg: dict[str, Any], which: str, *, step: int | None
) -> HttpResponse:
    reg[which] = {**reg[which], "verified": True, "step": step}
    reg["verifying"] = ""
    reg["challenge_id"] = ""
    _save_reg(request, reg)
    primary = reg["primary"]
    service = ServiceSettings.load()
    if (
        which == "primary"
        and primary["kind"] == VerificationMethod.Kind.AUTHENTICATOR_APP
        and _allowed(service)["backup_phone"]
    ):
        return redirect("signin_flow:register_backup")
    return _finish(request, user, reg)


@never_cache
@require_http_methods(["GET", "POST"])
def backup_phone(request: HttpRequest) -> HttpResponse:
    """Step 3 for app users: In case you lose access to the mobile app."""
    user = _user(request)
    if user is None:
        return _expired(request)
    reg = _reg(request)
    if not (reg.get("primary") or {}).get("verified"):
        return redirect("signin_flow:register")
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
            "kind": VerificationMethod.Kind.AUTHENTICATION_PHONE,
            "phone": data["e164"],
            "ext": "",
            "how": data["how"],
        }
        reg["verifying"] = "backup"
        return _verify_phone(request, user, reg)
    return render(request, "selfservice/register_backup.html", {"form": form})


def _default_for(target: dict[str, Any]) -> str:
    kind = target["kind"]
    if kind == VerificationMethod.Kind.AUTHENTICATOR_APP:
        return (
            MethodType.PHONE_APP_NOTIFICATION
            if target["mode"] == "notification"
            else MethodType.PHONE_APP_OTP
        )
    if kind == VerificationMethod.Kind.OFFICE_PHONE:
        return MethodType.TWO_WAY_VOICE_OFFICE
    return (
        MethodType.ONE_WAY_SMS if target.get("how") == "text" else MethodType.TWO_WAY_VOICE_MOBILE
    )


def _finish(request: HttpRequest, user: DirectoryUser, reg: dict[str, Any]) -> HttpResponse:
    primary = reg["primary"]
    phones: list[NewPhone] = []
    app = None
    for target in (primary, reg.get("backup")):
        if not target or not target.get("verified"):
            continue
        if target["kind"] == VerificationMethod.Kind.AUTHENTICATOR_APP:
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
    context = flow.self_service_context(request, user)
    registration_save(
        user=user, phones=phones, app=app, default_method=_default_for(primary), context=context
    )
    state = flow.pending_state(request) or {}
    next_url = flow.safe_next(request, state.get("next"))
    response = flow.signin_finish(request, user)
    after = response["Location"]
    # Step 4: Keep using your existing applications (the first app password), when allowed.
    if app_passwords_available(user) and not AppPassword.objects.filter(user=user).exists():
        try:
            _record, value = app_password_create(
                user=user, name=_("Created at registration"), context=context
            )
        except AppPasswordRefused:
            pass
        else:
            # Shown on the next page, once; the session holds it only encrypted.
            sealed, key_id = encrypt_secret(value.encode(), associated_data=_done_ad(user))
            request.session["first_app_password"] = [base64.b64encode(sealed).decode(), key_id]
            request.session["after_registration"] = next_url
            after = reverse("signin_flow:register_done")
    # Don't lose access to your account! (self-service password reset), when it is on and
    # the user has too few contacts for it; then the app password, then where they went.
    if recovery_contacts(user).needs_registration:
        request.session[RECOVERY_NEXT_KEY] = after
        after = reverse("selfservice:recovery")
    if is_htmx(request):
        return HttpResponseClientRedirect(after)
    if after == response["Location"]:
        return response
    return redirect(after)


def _done_ad(user: DirectoryUser) -> bytes:
    return f"first-app-password:{user.object_id}".encode()


@never_cache
@require_http_methods(["GET"])
def done(request: HttpRequest) -> HttpResponse:
    """Keep using your existing applications: the first app password, shown once."""
    if not request.user.is_authenticated:
        return redirect("signin")
    sealed = request.session.pop("first_app_password", None)
    next_url = request.session.pop("after_registration", "") or flow.safe_next(request, "")
    if not sealed:
        return redirect(next_url)
    value = decrypt_secret(
        base64.b64decode(sealed[0]),
        key_id=sealed[1],
        associated_data=_done_ad(signed_in_user(request)),
    ).decode()
    return render(
        request,
        "selfservice/register_done.html",
        {"app_password": value, "next_url": next_url},
    )
