"""Additional security verification (/mfa/setup/, DESIGN §5.3) and app passwords (§5.4).

Changing or deleting a method asks for the password again when it was last proved more
than ten minutes ago; the change waits in the session and is applied once it is proved.
A new or changed phone number is verified by a code or a call before it is saved.
"""

from __future__ import annotations

import base64
import contextlib
import uuid
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mfaportal.core.client_ip import client_ip
from mfaportal.core.htmx import is_htmx, redirect_for
from mfaportal.core.permissions import signed_in_required
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.selectors import session_proved_at, signed_in_user
from mfaportal.directory.services import session_proof_mark
from mfaportal.mfa import challenges, throttle, totp
from mfaportal.mfa.models import (
    AppPassword,
    MethodType,
    ServiceSettings,
    SignInAsked,
    SignInClient,
    SignInReason,
    SignInResult,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.passkeys import passkey_rows
from mfaportal.mfa.phones import phone_international, phone_national, phone_region
from mfaportal.mfa.recovery import password_reset_available, recovery_contacts
from mfaportal.mfa.selectors import (
    hardware_tokens_waiting,
    security_info_read,
    strong_authentication_methods,
    user_methods,
    user_mfa,
)
from mfaportal.mfa.services import remembered_devices_restore
from mfaportal.mfa.services.app_passwords import (
    MAX_PER_USER,
    AppPasswordRefused,
    app_password_create,
    app_password_delete,
    app_password_service_choices,
    app_passwords_available,
)
from mfaportal.mfa.services.methods import (
    MethodChangeRefused,
    NewApp,
    NewPhone,
    authenticator_app_add,
    default_method_set,
    phone_method_set,
    verification_method_delete,
)
from mfaportal.mfa.services.signin_log import signin_record
from mfaportal.mfa.shown_once import APP_PASSWORD, secret_hold, secret_take
from mfaportal.mfa.signin import password_reauthenticate
from mfaportal.selfservice import flow, flows
from mfaportal.selfservice.forms import (
    AppPasswordForm,
    MobileAppForm,
    OfficePhoneForm,
    PasswordForm,
    PhoneFields,
)
from mfaportal.selfservice.views.elsewhere import kept_by_the_directory
from mfaportal.selfservice.views.register import app_setup_context

Kind = VerificationMethod.Kind
Channel = VerificationChallenge.Channel
REAUTH_AFTER = timedelta(minutes=10)
STEP_UP_TTL = timedelta(minutes=10)
CHANGE_TTL = timedelta(minutes=15)
SETUP_CODE_LIMIT = throttle.Limit(count=5, window=timedelta(hours=1), block=timedelta(minutes=15))


class OptionalPhone(PhoneFields):
    required_phone = False


class OptionalOfficePhone(OfficePhoneForm):
    required_phone = False


def needs_reauthentication(request: HttpRequest) -> bool:
    """This session has not proved who is using it in the last few minutes (a whole sign-in
    or a reauthentication here; a password typed in another browser does not count)."""
    proved = session_proved_at(request.session)
    return proved is None or timezone.now() - proved > REAUTH_AFTER


def reauthentication_ask(
    request: HttpRequest, action: str, data: QueryDict | dict[str, list[str]]
) -> HttpResponse:
    """Ask for the password again; the change waits in a step-up flow until it is given."""
    items = data.lists() if isinstance(data, QueryDict) else data.items()
    flows.flow_start(
        request,
        kind=flows.Kind.STEP_UP,
        user=signed_in_user(request),
        ttl=STEP_UP_TTL,
        data={
            "action": action,
            "data": {key: values for key, values in items if key != "csrfmiddlewaretoken"},
        },
    )
    return redirect("selfservice:reauthenticate")


def own_flow(request: HttpRequest, kind: str) -> flows.FlowState | None:
    """This browser's flow of the kind, if it belongs to the person signed in."""
    found = flows.flow_current(request, kind)
    if found is None or found.user_id != signed_in_user(request).pk:
        return None
    return found


def _context(request: HttpRequest) -> Any:
    return flow.self_service_context(request, signed_in_user(request))


def _preferred_choices(
    methods: list[VerificationMethod], service: ServiceSettings
) -> list[tuple[str, str]]:
    allowed = {
        MethodType.ONE_WAY_SMS: service.method_text,
        MethodType.TWO_WAY_VOICE_MOBILE: service.method_call,
        MethodType.TWO_WAY_VOICE_OFFICE: service.method_call,
        MethodType.TWO_WAY_VOICE_ALTERNATE_MOBILE: service.method_call,
        MethodType.PHONE_APP_NOTIFICATION: service.method_app_notification,
        MethodType.PHONE_APP_OTP: service.method_app_code,
        MethodType.PASSKEY: True,
    }
    available = {m["methodType"] for m in strong_authentication_methods(methods, "")}
    return [(t.value, str(t.label)) for t in MethodType if t in available and allowed[t]]


def _phone_initial(method: VerificationMethod | None) -> dict[str, str]:
    if method is None:
        return {}
    return {
        "country": phone_region(method.phone_number),
        "phone": phone_national(method.phone_number),
        "extension": method.extension,
    }


def _setup_forms(
    user: DirectoryUser, data: Any = None, *, methods: list[VerificationMethod] | None = None
) -> dict[str, Any]:
    by_kind = {m.kind: m for m in (user.methods.all() if methods is None else methods)}
    return {
        "auth_form": OptionalPhone(
            data, prefix="auth", initial=_phone_initial(by_kind.get(Kind.AUTHENTICATION_PHONE))
        ),
        "office_form": OptionalOfficePhone(
            data, prefix="office", initial=_phone_initial(by_kind.get(Kind.OFFICE_PHONE))
        ),
        "alt_form": OptionalPhone(
            data, prefix="alt", initial=_phone_initial(by_kind.get(Kind.ALTERNATE_PHONE))
        ),
    }


def _render_setup(
    request: HttpRequest, forms: dict[str, Any] | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    user = signed_in_user(request)
    service = ServiceSettings.load()
    tokens_waiting = security_info_read(user)
    mfa = user_mfa(user)
    methods = user_methods(user)
    by_kind = {m.kind: m for m in methods}
    return render(
        request,
        "selfservice/setup.html",
        {
            "mfa": mfa,
            "methods": methods,
            "apps": [m for m in methods if m.kind in (Kind.AUTHENTICATOR_APP, Kind.HARDWARE_TOKEN)],
            "has_alternate": Kind.ALTERNATE_PHONE in by_kind,
            "preferred_choices": _preferred_choices(methods, service),
            "preferred": strong_default(methods, mfa.default_method),
            "strong_methods": strong_authentication_methods(methods, mfa.default_method),
            "app_passwords_tab": app_passwords_available(user, service, mfa=mfa),
            "service": service,
            "recovery": recovery_contacts(user, service, methods=methods)
            if password_reset_available(service)
            else None,
            "passkeys": passkey_rows(methods),
            "error": error,
            # Hardware OATH tokens assigned and waiting for a code (issue 16.3).
            "hardware_tokens_waiting": hardware_tokens_waiting(user) if tokens_waiting else [],
            **(forms or _setup_forms(user, methods=methods)),
        },
        status=status,
    )


def strong_default(methods: list[VerificationMethod], default: str) -> str:
    listed = strong_authentication_methods(methods, default)
    return next((m["methodType"] for m in listed if m["isDefault"]), "")


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def setup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _apply_save(request, request.POST)
    return _render_setup(request)


def _apply_save(request: HttpRequest, data: QueryDict) -> HttpResponse:
    user = signed_in_user(request)
    forms = _setup_forms(user, data)
    if not all(form.is_valid() for form in forms.values()):
        return _render_setup(request, forms, _("Check the phone numbers below."), status=400)
    by_kind = {m.kind: m for m in user.methods.all()}
    wanted = {
        Kind.AUTHENTICATION_PHONE: (forms["auth_form"].cleaned_data["e164"], ""),
        Kind.OFFICE_PHONE: (
            forms["office_form"].cleaned_data["e164"],
            forms["office_form"].cleaned_data.get("extension", ""),
        ),
        Kind.ALTERNATE_PHONE: (
            forms["alt_form"].cleaned_data["e164"] if data.get("alt_enabled") == "on" else "",
            "",
        ),
    }
    changes: list[NewPhone] = []
    removals: list[VerificationMethod] = []
    for kind, (number, extension) in wanted.items():
        current = by_kind.get(kind)
        if number and (
            current is None or current.phone_number != number or current.extension != extension
        ):
            changes.append(NewPhone(kind=kind, phone_number=number, extension=extension))
        elif not number and current is not None:
            removals.append(current)
    preferred = data.get("preferred", "")
    if (changes or removals) and needs_reauthentication(request):
        return reauthentication_ask(request, "save", data)
    if len(changes) > 1:
        return _render_setup(
            request,
            forms,
            _("Change one phone number at a time, so that each new number can be verified."),
            status=400,
        )
    context = _context(request)
    for method in removals:
        try:
            verification_method_delete(user=user, method_id=method.pk, context=context)
        except MethodChangeRefused as refused:
            return _render_setup(request, forms, refused.message, status=400)
    if changes:
        return _start_change(request, user, changes[0], preferred)
    if preferred:
        try:
            default_method_set(user=user, method_type=preferred, context=context)
        except MethodChangeRefused as refused:
            return _render_setup(request, forms, refused.message, status=400)
    messages.success(request, _("Your changes have been saved."))
    return redirect("selfservice:setup")


def _start_change(
    request: HttpRequest, user: DirectoryUser, phone: NewPhone, preferred: str
) -> HttpResponse:
    return phone_change_verify_start(request, user, phone, preferred=preferred)


def phone_change_verify_start(
    request: HttpRequest,
    user: DirectoryUser,
    phone: NewPhone,
    *,
    preferred: str = "",
    how: str = "",
    return_to: str = "",
) -> HttpResponse:
    """Text or call the new number; it is saved once it answered (verify_change). ``how``
    asks for "text" or "call" where the person chose; ``return_to`` is where to go after."""
    service = ServiceSettings.load()
    text = phone.kind == Kind.AUTHENTICATION_PHONE and service.method_text and not phone.extension
    if how == "call" and service.method_call:
        text = False
    if not text and not service.method_call:
        return _render_setup(
            request, error=_("Your organization doesn't allow verifying this phone."), status=400
        )
    try:
        challenge = challenges.challenge_start(
            user=user,
            channel=Channel.TEXT if text else Channel.CALL,
            purpose=VerificationChallenge.Purpose.CHANGE,
            phone_number=phone.phone_number,
            extension=phone.extension,
        )
    except challenges.ChallengeRefused as refused:
        return _render_setup(request, error=refused.message, status=400)
    flows.flow_start(
        request,
        kind=flows.Kind.PHONE_CHANGE,
        user=user,
        ttl=CHANGE_TTL,
        data={
            "kind": phone.kind,
            "phone": phone.phone_number,
            "ext": phone.extension,
            "challenge_id": str(challenge.id),
            "text": bool(text),
            "preferred": preferred,
            "return_to": return_to,
        },
    )
    return redirect("selfservice:verify_change")


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def verify_change(request: HttpRequest) -> HttpResponse:
    """A new phone number is saved only after it answered."""
    user = signed_in_user(request)
    change_flow = own_flow(request, flows.Kind.PHONE_CHANGE)
    if change_flow is None:
        return redirect_for(request, reverse("selfservice:setup"))
    change = change_flow.data
    error = ""
    if request.method == "POST":
        # The check and the save it allows commit together.
        try:
            with transaction.atomic():
                answered = _change_answer(request, user, change_flow)
        except flows.FlowMoved:
            # Saved by a request racing this one (the poll and a click).
            return redirect_for(request, reverse("selfservice:setup"))
        if isinstance(answered, HttpResponse):
            return answered
        # POST/redirect/GET: the error waits in the flow for the page, so a reload shows it
        # and never posts the code again.
        flows.flow_advance(change_flow, answer_error=answered)
        return redirect_for(request, request.path)
    if change_flow.get("answer_error"):
        error = str(change_flow.get("answer_error"))
        flows.flow_advance(change_flow, drop=("answer_error",))
    challenge = VerificationChallenge.objects.filter(pk=change["challenge_id"], user=user).first()
    return render(
        request,
        "selfservice/setup_verify.html",
        {
            "change": change,
            "number": phone_international(change["phone"]),
            "error": error,
            "challenge": challenge,
            "cancel_url": change.get("return_to") or reverse("selfservice:setup"),
        },
    )


def _change_answer(
    request: HttpRequest, user: DirectoryUser, change_flow: flows.FlowState
) -> HttpResponse | str:
    """The code, or whether the call was answered: the response once the number is saved
    (or the poll's "still waiting"), else what went wrong."""
    change = change_flow.data
    if change["text"]:
        outcome = challenges.text_code_check(
            challenge_id=change["challenge_id"], user=user, code=request.POST.get("code", "")
        )
    else:
        outcome = challenges.answer_take(challenge_id=change["challenge_id"], user=user)
        if outcome.status == "pending" and is_htmx(request):
            return HttpResponse(status=204)
    if outcome.ok:
        flows.flow_close(request, change_flow)
        context = _context(request)
        unchanged = user.methods.filter(
            kind=change["kind"], phone_number=change["phone"], extension=change["ext"]
        ).exists()
        if not unchanged:
            phone_method_set(
                user=user,
                phone=NewPhone(
                    kind=change["kind"], phone_number=change["phone"], extension=change["ext"]
                ),
                context=context,
            )
        if change.get("preferred"):
            with contextlib.suppress(MethodChangeRefused):
                default_method_set(user=user, method_type=change["preferred"], context=context)
        messages.success(
            request,
            _("Your phone number has been verified.")
            if unchanged
            else _("Your phone number has been verified and saved."),
        )
        back = flow.safe_next(request, change.get("return_to") or reverse("selfservice:setup"))
        return redirect_for(request, back)
    if outcome.status == "used":
        # Verified by a request racing this one (the poll and a click), which saved it.
        return redirect_for(request, reverse("selfservice:setup"))
    if outcome.status == "pending":
        return _("We're still waiting for your answer.")
    return outcome.message


@signed_in_required
@require_POST
@kept_by_the_directory
def method_delete(request: HttpRequest, method_id: int) -> HttpResponse:
    user = signed_in_user(request)
    if not user.methods.filter(pk=method_id).exists():
        return render(request, "404.html", status=404)
    if needs_reauthentication(request):
        return reauthentication_ask(request, "delete_method", {"method_id": [str(method_id)]})
    return _apply_delete(request, method_id)


def _apply_delete(request: HttpRequest, method_id: int) -> HttpResponse:
    try:
        deleted = verification_method_delete(
            user=signed_in_user(request), method_id=method_id, context=_context(request)
        )
    except MethodChangeRefused as refused:
        messages.error(request, refused.message)
        return redirect("selfservice:setup")
    if deleted:
        messages.success(request, _("The method has been deleted."))
    return redirect("selfservice:setup")


@signed_in_required
@require_POST
@kept_by_the_directory
def restore_devices(request: HttpRequest) -> HttpResponse:
    """Restore multi-factor authentication on previously trusted devices."""
    user = signed_in_user(request)
    remembered_devices_restore(
        users=DirectoryUser.objects.filter(pk=user.pk), context=_context(request)
    )
    messages.success(
        request, _("You'll be asked for verification again on every device you had trusted.")
    )
    return redirect("selfservice:setup")


# --- authenticator app set-up ----------------------------------------------------------------


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def app_setup(request: HttpRequest) -> HttpResponse:
    """Set up Authenticator app: choose notifications or codes, then Configure mobile app."""
    service = ServiceSettings.load()
    form = MobileAppForm(
        request.POST if request.method == "POST" else None,
        notification_allowed=service.method_app_notification,
        code_allowed=service.method_app_code,
    )
    if request.method == "POST" and form.is_valid():
        if needs_reauthentication(request):
            return reauthentication_ask(request, "setup_app", request.POST)
        return _apply_app_setup(request, form.cleaned_data["mode"])
    return render(request, "selfservice/setup_app.html", {"form": form, "stage": "choose"})


def _apply_app_setup(request: HttpRequest, mode: str) -> HttpResponse:
    user = signed_in_user(request)
    secret = totp.secret_generate()
    ciphertext, key_id = totp.secret_seal(secret, object_id=str(user.object_id))
    flows.flow_start(
        request,
        kind=flows.Kind.APP_SETUP,
        user=user,
        ttl=CHANGE_TTL,
        data={
            "mode": mode,
            "ct": base64.b64encode(ciphertext).decode(),
            "kid": key_id,
            "challenge_id": "",
        },
    )
    return redirect("selfservice:app_configure")


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def app_configure(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    app_flow = own_flow(request, flows.Kind.APP_SETUP)
    if app_flow is None:
        return redirect_for(request, reverse("selfservice:setup"))
    pending = app_flow.data
    secret = totp.secret_open(
        base64.b64decode(pending["ct"]), key_id=pending["kid"], object_id=str(user.object_id)
    )
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if pending["mode"] == "code" and action == "code":
            # The attempt is taken before the code is checked: parallel guesses get no more.
            counters = [throttle.Counter(f"setup-code:user:{user.pk}", SETUP_CODE_LIMIT)]
            if blocked := throttle.attempt_reserve(counters):
                error = throttle.lockout_message(blocked)
            else:
                step = totp.matching_step(secret, request.POST.get("code", ""))
                if step is not None:
                    throttle.attempt_succeeded(counters)
                    try:
                        with transaction.atomic():
                            return _app_saved(request, user, app_flow, secret, step)
                    except flows.FlowMoved:
                        return redirect_for(request, reverse("selfservice:setup"))
                throttle.attempt_failed(counters)
                error = _("That code isn't right. Check the time on your phone and try again.")
        elif pending["mode"] == "notification" and action == "send":
            try:
                started = challenges.challenge_start(
                    user=user,
                    channel=Channel.APP_NOTIFICATION,
                    purpose=VerificationChallenge.Purpose.CHANGE,
                )
            except challenges.ChallengeRefused as refused:
                error = refused.message
            else:
                flows.flow_advance(app_flow, challenge_id=str(started.id))
                return redirect("selfservice:app_configure")
        elif pending["mode"] == "notification" and action == "check":
            try:
                with transaction.atomic():  # the approval taken and the app saved, together
                    outcome = challenges.answer_take(
                        challenge_id=pending.get("challenge_id", ""), user=user
                    )
                    if outcome.ok:
                        return _app_saved(request, user, app_flow, secret, None)
            except flows.FlowMoved:
                return redirect_for(request, reverse("selfservice:setup"))
            if outcome.status == "pending":
                if is_htmx(request):
                    return HttpResponse(status=204)
                error = _("We're still waiting for your answer.")
            elif outcome.status == "used":
                # Approved and saved by a request racing this one (the poll and a click).
                return redirect_for(request, reverse("selfservice:setup"))
            else:
                flows.flow_advance(app_flow, challenge_id="")
                error = outcome.message
                if is_htmx(request):
                    return redirect_for(request, request.path)
    challenge = None
    if pending.get("challenge_id"):
        challenge = VerificationChallenge.objects.filter(
            pk=pending["challenge_id"], user=user
        ).first()
    return render(
        request,
        "selfservice/setup_app.html",
        {
            **app_setup_context(user, secret),
            "stage": "configure",
            "mode": pending["mode"],
            "challenge": challenge,
            "error": error,
        },
    )


def _app_saved(
    request: HttpRequest,
    user: DirectoryUser,
    app_flow: flows.FlowState,
    secret: str,
    step: int | None,
) -> HttpResponse:
    flows.flow_close(request, app_flow)  # FlowMoved: saved by a request racing this one
    authenticator_app_add(
        user=user,
        app=NewApp(
            mode=app_flow.data["mode"],
            secret=secret,
            last_used_step=step,
            device_name=_("Authenticator app"),
        ),
        context=_context(request),
    )
    messages.success(request, _("Your authenticator app is set up."))
    return redirect_for(request, reverse("selfservice:setup"))


# --- reauthentication --------------------------------------------------------------------


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def reauthenticate(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    step_up = own_flow(request, flows.Kind.STEP_UP)
    if step_up is None:
        return redirect("selfservice:setup")
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        proved, blocked = password_reauthenticate(user=user, password=form.cleaned_data["password"])
        if blocked:
            _reauthentication_logged(request, user, SignInResult.FAILURE, SignInReason.LOCKED)
            error = throttle.lockout_message(blocked)
        elif proved:
            _reauthentication_logged(request, user, SignInResult.SUCCESS, SignInReason.NONE)
            session_proof_mark(session=request.session)
            if not flows.flow_end(request, step_up):
                # The same change was replayed by a request racing this one.
                return redirect("selfservice:setup")
            return _replay(request, dict(step_up.data))
        else:
            _reauthentication_logged(
                request, user, SignInResult.FAILURE, SignInReason.WRONG_PASSWORD
            )
            error = _("Your password is incorrect.")
        # POST/redirect/GET: the error waits in the flow for the page, so a reload shows it
        # and never posts the password again.
        flows.flow_advance(step_up, password_error=error)
        return redirect("selfservice:reauthenticate")
    error = ""
    if request.method == "GET" and step_up.get("password_error"):
        error = str(step_up.get("password_error"))
        flows.flow_advance(step_up, drop=("password_error",))
    return render(request, "selfservice/reauthenticate.html", {"form": form, "error": error})


def _reauthentication_logged(
    request: HttpRequest, user: DirectoryUser, result: SignInResult, reason: SignInReason
) -> None:
    """The password asked again before a change, in the sign-in log (issue 16.5)."""
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked.PASSWORD,
        result=result,
        reason=reason,
        user=user,
        address=client_ip(request),
    )


def _replay(request: HttpRequest, pending: dict[str, Any]) -> HttpResponse:
    data = QueryDict(mutable=True)
    for key, values in pending.get("data", {}).items():
        data.setlist(key, list(values))
    action = pending.get("action")
    if action == "save":
        return _apply_save(request, data)
    if action == "delete_method":
        return _apply_delete(request, int(data.get("method_id", "0")))
    if action == "setup_app":
        return _apply_app_setup(request, data.get("mode", "code"))
    if action == "app_password_create":
        return _apply_app_password_create(request, data.get("name", ""), data.get("service", ""))
    if action == "passkey_add":
        from mfaportal.selfservice.views.passkeys import passkey_setup_start

        return passkey_setup_start(request)
    if action == "recovery_email":
        from mfaportal.selfservice.views.recovery import email_code_send

        return email_code_send(request, data.get("email", ""))
    if action == "recovery_phone":
        from mfaportal.selfservice.views.recovery import phone_change_start

        return phone_change_start(request, data)
    return redirect("selfservice:setup")


# --- app passwords -----------------------------------------------------------------------------


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def app_passwords(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    available = app_passwords_available(user)
    form = AppPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not available:
            return render(
                request, "selfservice/app_passwords.html", {"available": False}, status=403
            )
        if form.is_valid():
            if needs_reauthentication(request):
                return reauthentication_ask(request, "app_password_create", request.POST)
            return _apply_app_password_create(
                request, form.cleaned_data["name"], form.cleaned_data["service"]
            )
    rows = list(AppPassword.objects.filter(user=user)) if available else []
    return render(
        request,
        "selfservice/app_passwords.html",
        {
            "available": available,
            "rows": rows,
            "form": form,
            "max": MAX_PER_USER,
            "at_limit": len(rows) >= MAX_PER_USER,
            "declined_at": user_mfa(user).app_passwords_declined_at,
            **_service_choice(),
        },
    )


def _service_choice() -> dict[str, Any]:
    required = ServiceSettings.load().app_password_binding_required
    return {
        "binding_required": required,
        "service_choices": app_password_service_choices(binding_required=required),
    }


def _apply_app_password_create(request: HttpRequest, name: str, service: str = "") -> HttpResponse:
    user = signed_in_user(request)
    try:
        record, value = app_password_create(
            user=user, name=name, service=service, context=_context(request)
        )
    except AppPasswordRefused as refused:
        rows = list(AppPassword.objects.filter(user=user))
        return render(
            request,
            "selfservice/app_passwords.html",
            {
                "available": app_passwords_available(user),
                "rows": rows,
                "form": AppPasswordForm(initial={"name": name, "service": service}),
                "error": refused.message,
                "max": MAX_PER_USER,
                "at_limit": len(rows) >= MAX_PER_USER,
                **_service_choice(),
            },
            status=400,
        )
    # Shown once, by the page this redirects to (POST/redirect/GET): a reload or Back
    # shows that it is no longer shown and creates nothing.
    held = secret_hold(reader=user, purpose=APP_PASSWORD, value=value, label=record.name)
    return redirect("selfservice:app_password_created", secret_id=held)


@signed_in_required
@require_GET
def app_password_created(request: HttpRequest, secret_id: uuid.UUID) -> HttpResponse:
    """The new app password, once: the read is the last time it exists in clear."""
    shown = secret_take(secret_id=secret_id, reader=signed_in_user(request), purpose=APP_PASSWORD)
    return render(request, "selfservice/app_password_created.html", {"shown": shown})


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def app_password_delete_view(request: HttpRequest, app_password_id: int) -> HttpResponse:
    user = signed_in_user(request)
    record = AppPassword.objects.filter(pk=app_password_id, user=user).first()
    if record is None:
        return render(request, "404.html", status=404)
    if request.method == "POST":
        app_password_delete(user=user, app_password_id=record.pk, context=_context(request))
        messages.success(
            request, _("The app password %(name)s has been deleted.") % {"name": record.name}
        )
        return redirect("selfservice:app_passwords")
    return render(request, "selfservice/app_password_delete.html", {"record": record})
