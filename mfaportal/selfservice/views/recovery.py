"""*Don't lose access to your account!* (DESIGN §5.7): the contacts for self-service password
reset. Shown after MFA registration when the user hasn't registered enough of them, and
from /mfa/setup/ at any time.

- Authentication email: verified by a 6-digit code mailed to it (the challenge machinery's
  email channel: hashed, single use, 10 minutes, limited attempts and sends); never an
  address in the tenant's own domains.
- Authentication phone: the one registered for MFA counts; a new or changed number is
  verified by text or call through the same change flow as /mfa/setup/.

Adding or changing a contact asks for the password again when it was last proved more
than ten minutes ago, as method changes on /mfa/setup/ do.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mfaportal.core.permissions import signed_in_required
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa import challenges
from mfaportal.mfa.models import ServiceSettings, VerificationChallenge, VerificationMethod
from mfaportal.mfa.phones import phone_national, phone_region
from mfaportal.mfa.recovery import (
    RecoveryRefused,
    authentication_email_set,
    password_reset_available,
    recovery_contacts,
)
from mfaportal.mfa.services.methods import NewPhone
from mfaportal.selfservice import flow, flows
from mfaportal.selfservice.forms import AuthenticationEmailForm, AuthenticationPhoneForm
from mfaportal.selfservice.views.elsewhere import kept_by_the_directory

# setup_views is imported inside the views that use it: it imports register_views.


def _flow(request: HttpRequest) -> flows.FlowState | None:
    """The recovery flow of the person signed in: where to go after, and the email code
    waiting to be typed (started after a registration, or by the first email sent)."""
    found = flows.flow_current(request, flows.Kind.RECOVERY)
    if found is None or found.user_id != signed_in_user(request).pk:
        return None
    return found


def _after(request: HttpRequest, found: flows.FlowState | None = None) -> str:
    """Where *finish* and *cancel* go: where the sign-in was heading, or /mfa/setup/."""
    found = found or _flow(request)
    then = found.get("then") if found is not None else ""
    return flow.safe_next(request, then or reverse("selfservice:setup"))


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def recovery(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    service = ServiceSettings.load()
    if not password_reset_available(service):
        return redirect(_after(request))
    contacts = recovery_contacts(user, service)
    error = ""
    if request.method == "POST":
        if contacts.registered:
            found = _flow(request)
            target = _after(request, found)
            flows.flow_end(request, found, kind=flows.Kind.RECOVERY)
            messages.success(request, _("You're set up to reset your own password."))
            return redirect(target)
        error = _(
            "Set up at least %(count)d of the options below, so that you can reset your "
            "password if you forget it."
        ) % {"count": contacts.required}
    return render(
        request,
        "selfservice/recovery.html",
        {
            "contacts": contacts,
            "error": error,
            "phone_allowed": service.method_text or service.method_call,
            "cancel_url": _after(request),
        },
        status=400 if error else 200,
    )


# --- authentication email ------------------------------------------------------------------


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def recovery_email(request: HttpRequest) -> HttpResponse:
    """Authentication email: the address, then the code mailed to it."""
    from mfaportal.selfservice.views.setup import needs_reauthentication, reauthentication_ask

    user = signed_in_user(request)
    if not password_reset_available():
        return redirect("selfservice:setup")
    found = _flow(request)
    pending = found.get("email") if found is not None else None
    pending = pending if isinstance(pending, dict) else None
    action = request.POST.get("action", "") if request.method == "POST" else ""
    form = AuthenticationEmailForm(request.POST if action == "send" else None)
    error = ""
    if action == "send" and form.is_valid():
        if needs_reauthentication(request):
            return reauthentication_ask(
                request, "recovery_email", {"email": [form.cleaned_data["email"]]}
            )
        return email_code_send(request, form.cleaned_data["email"])
    if action == "verify" and pending:
        outcome = challenges.text_code_check(
            challenge_id=str(pending.get("challenge_id", "")),
            user=user,
            code=request.POST.get("code", "")[:12],
        )
        if outcome.ok:
            if found is not None:
                flows.flow_advance(found, drop=("email",))
            try:
                authentication_email_set(
                    user=user,
                    address=str(pending["address"]),
                    context=flow.self_service_context(request, user),
                )
            except RecoveryRefused as refused:
                messages.error(request, refused.message)
                return redirect("selfservice:recovery_email")
            messages.success(request, _("Your authentication email has been verified."))
            return redirect("selfservice:recovery")
        # POST/redirect/GET: a reload shows the error and never posts the code again.
        if found is not None:
            flows.flow_advance(found, code_error=outcome.message)
        return redirect("selfservice:recovery_email")
    if request.method == "GET" and found is not None and found.get("code_error"):
        error = str(found.get("code_error"))
        flows.flow_advance(found, drop=("code_error",))
    if action == "change":
        if found is not None:
            flows.flow_advance(found, drop=("email",))
        pending = None
    if pending is None and not form.is_bound:
        current = recovery_contacts(user).email
        form = AuthenticationEmailForm(initial={"email": current} if current else None)
    return render(
        request,
        "selfservice/recovery_email.html",
        {"form": form, "pending": pending, "error": error},
        status=400 if form.errors else 200,
    )


def email_code_send(request: HttpRequest, address: str) -> HttpResponse:
    """Mail a code to the address (after any reauthentication) and ask for it."""
    user = signed_in_user(request)
    try:
        challenge = challenges.challenge_start(
            user=user,
            channel=VerificationChallenge.Channel.EMAIL,
            purpose=VerificationChallenge.Purpose.REGISTRATION,
            email_address=address,
        )
    except challenges.ChallengeRefused as refused:
        form = AuthenticationEmailForm(initial={"email": address})
        return render(
            request,
            "selfservice/recovery_email.html",
            {"form": form, "pending": None, "error": refused.message},
            status=400,
        )
    email = {"address": address, "challenge_id": str(challenge.id)}
    found = _flow(request)
    if found is None or flows.flow_advance(found, email=email) is None:
        flows.flow_start(
            request,
            kind=flows.Kind.RECOVERY,
            user=user,
            ttl=flow.RECOVERY_TTL,
            data={"then": _after(request, found), "email": email},
        )
    return redirect("selfservice:recovery_email")


# --- authentication phone -------------------------------------------------------------------


@signed_in_required
@require_http_methods(["GET", "POST"])
@kept_by_the_directory
def recovery_phone(request: HttpRequest) -> HttpResponse:
    """Authentication phone: a new or changed number, verified by text or call before it is
    saved (the same change flow as /mfa/setup/)."""
    from mfaportal.selfservice.views.setup import needs_reauthentication, reauthentication_ask

    user = signed_in_user(request)
    service = ServiceSettings.load()
    if not password_reset_available(service) or not (service.method_text or service.method_call):
        return redirect("selfservice:setup")
    current = recovery_contacts(user, service).phone
    form = AuthenticationPhoneForm(
        request.POST if request.method == "POST" else None,
        prefix="auth",
        text_allowed=service.method_text,
        call_allowed=service.method_call,
        initial={"country": phone_region(current), "phone": phone_national(current)}
        if current
        else None,
    )
    if request.method == "POST" and form.is_valid():
        if needs_reauthentication(request):
            return reauthentication_ask(request, "recovery_phone", request.POST)
        return phone_change_start(request, request.POST)
    return render(request, "selfservice/recovery_phone.html", {"form": form})


def phone_change_start(request: HttpRequest, data: QueryDict) -> HttpResponse:
    from mfaportal.selfservice.views.setup import phone_change_verify_start

    service = ServiceSettings.load()
    form = AuthenticationPhoneForm(
        data,
        prefix="auth",
        text_allowed=service.method_text,
        call_allowed=service.method_call,
    )
    if not form.is_valid():
        return render(request, "selfservice/recovery_phone.html", {"form": form}, status=400)
    return phone_change_verify_start(
        request,
        signed_in_user(request),
        NewPhone(
            kind=VerificationMethod.Kind.AUTHENTICATION_PHONE,
            phone_number=form.cleaned_data["e164"],
        ),
        how=form.cleaned_data["how"],
        return_to=reverse("selfservice:recovery"),
    )
