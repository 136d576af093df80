"""Phone, mail and authenticator simulators (local mode, DESIGN §5.6 and §5.7).

They stand in for a person's phone and mailbox: /demo/phone/ shows the telephony outbox per
number and answers calls; /demo/mail/ shows the mail outbox per address; /demo/authenticator/
is an authenticator app for whoever is signed in (or halfway through signing in) in this
browser. They exist only when MFAPORTAL_SIMULATORS is on; otherwise every URL here is a 404.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mfaportal.core.htmx import is_htmx
from mfaportal.core.params import db_text
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import challenges, totp
from mfaportal.mfa.models import (
    OutboxEmail,
    TelephonyMessage,
    VerificationChallenge,
    VerificationMethod,
)
from mfaportal.mfa.phones import phone_international
from mfaportal.mfa.services.oath_tokens import token_secret
from mfaportal.mfa.telephony import outbox_call_answered
from mfaportal.selfservice import flow, flows

View = TypeVar("View", bound=Callable[..., HttpResponse])


def simulators_only(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.MFAPORTAL_SIMULATORS:
            raise Http404
        return view(request, *args, **kwargs)

    return cast(View, wrapper)


# --- phone -------------------------------------------------------------------------------------


@never_cache
@simulators_only
@require_GET
def phone(request: HttpRequest) -> HttpResponse:
    number = (db_text(request.GET.get("number")) or "").strip()
    numbers = list(
        TelephonyMessage.objects.order_by("to_number")
        .values_list("to_number", flat=True)
        .distinct()[:200]
    )
    shown = []
    if number:
        now = timezone.now()
        for message in TelephonyMessage.objects.filter(to_number=number).select_related(
            "challenge"
        )[:30]:
            ringing = (
                message.kind == TelephonyMessage.Kind.CALL
                and message.answered_at is None
                and message.challenge is not None
                and message.challenge.status == VerificationChallenge.Status.PENDING
                and message.challenge.expires_at > now
            )
            shown.append({"message": message, "ringing": ringing})
    template = "demo/phone.html#inbox" if is_htmx(request) else "demo/phone.html"
    return render(
        request,
        template,
        {
            "numbers": [(n, phone_international(n)) for n in numbers],
            "number": number,
            "number_display": phone_international(number) if number else "",
            "messages_shown": shown,
        },
    )


@never_cache
@simulators_only
@require_POST
def phone_answer(request: HttpRequest, message_id: int) -> HttpResponse:
    message = TelephonyMessage.objects.filter(
        pk=message_id, kind=TelephonyMessage.Kind.CALL
    ).first()
    if message is None or message.challenge_id is None:
        raise Http404
    keys = request.POST.get("keys", "")
    outbox_call_answered(message=message, keys=keys)
    outcome = challenges.call_answer(challenge_id=str(message.challenge_id), keys=keys)
    if outcome.status == "fraud":
        challenge = VerificationChallenge.objects.select_related("user").get(
            pk=message.challenge_id
        )
        reported = challenges.fraud_report(
            challenge_id=str(challenge.pk),
            user=challenge.user,
            context=flow.self_service_context(request, challenge.user),
        )
        messages.warning(request, reported.message)
    elif outcome.message:
        messages.info(request, outcome.message)
    return redirect(f"{reverse('demo:phone')}?number={message.to_number.replace('+', '%2B')}")


# --- mail ----------------------------------------------------------------------------------------


@never_cache
@simulators_only
@require_GET
def mail(request: HttpRequest) -> HttpResponse:
    """The mail outbox, one mailbox at a time, newest first."""
    address = (db_text(request.GET.get("address")) or "").strip().lower()
    addresses = list(
        OutboxEmail.objects.order_by("to_address")
        .values_list("to_address", flat=True)
        .distinct()[:200]
    )
    shown = list(OutboxEmail.objects.filter(to_address=address)[:30]) if address else []
    template = "demo/mail.html#mailbox" if is_htmx(request) else "demo/mail.html"
    return render(
        request,
        template,
        {"addresses": addresses, "address": address, "messages_shown": shown},
    )


# --- authenticator -----------------------------------------------------------------------------


def _holder(request: HttpRequest) -> DirectoryUser | None:
    """Whose phone this is: the person signed in here, or halfway through signing in (not
    while a temporary password waits to be replaced: nothing opens before that)."""
    if request.user.is_authenticated and isinstance(request.user, DirectoryUser):
        return None if request.user.password_must_change else request.user
    if flow.password_change_pending(request):
        return None
    return flow.pending_user(request)


def _accounts(request: HttpRequest, user: DirectoryUser) -> list[dict[str, Any]]:
    now_step = totp.current_step()
    accounts = []
    tokens = list(user.hardware_oath_tokens.all())
    activated = {token.method_id: token for token in tokens if token.method_id}
    for method in VerificationMethod.objects.filter(user=user, secret_ciphertext__isnull=False):
        secret = totp.secret_open(
            method.secret_ciphertext, key_id=method.secret_key_id, object_id=str(user.object_id)
        )
        # A hardware token counts in its own interval (30 or 60 s).
        period = activated[method.pk].time_interval if method.pk in activated else totp.PERIOD
        accounts.append(
            {
                "name": method.device_name or method.get_kind_display(),
                "code": totp.code_at(secret, step=totp.current_step(period=period), period=period),
                "setting_up": False,
            }
        )
    # The demo's stand-in for a key fob assigned and not yet activated (issue 16.3).
    for token in (token for token in tokens if not token.method_id):
        accounts.append(
            {
                "name": token.label,
                "code": totp.code_at(
                    token_secret(token),
                    step=totp.current_step(period=token.time_interval),
                    period=token.time_interval,
                ),
                "setting_up": True,
            }
        )
    pending: list[dict[str, Any]] = []
    signing_in = flows.flow_current(request, flows.Kind.SIGN_IN)
    reg = signing_in.get("reg") if signing_in is not None else None
    if isinstance(reg, dict) and (reg.get("primary") or {}).get("ct"):
        pending.append(reg["primary"])
    setup_app = flows.flow_current(request, flows.Kind.APP_SETUP)
    if setup_app is not None and setup_app.get("ct") and setup_app.user_id == user.pk:
        pending.append(dict(setup_app.data))
    for app in pending:
        secret = totp.secret_open(
            base64.b64decode(app["ct"]), key_id=app["kid"], object_id=str(user.object_id)
        )
        accounts.append(
            {
                "name": _("Account being set up"),
                "code": totp.code_at(secret, step=now_step),
                "setting_up": True,
            }
        )
    return accounts


@never_cache
@simulators_only
@require_GET
def authenticator(request: HttpRequest) -> HttpResponse:
    user = _holder(request)
    context: dict[str, Any] = {"holder": user}
    if user is not None:
        now = timezone.now()
        context["approvals"] = list(
            VerificationChallenge.objects.filter(
                user=user,
                channel=VerificationChallenge.Channel.APP_NOTIFICATION,
                status=VerificationChallenge.Status.PENDING,
                expires_at__gt=now,
            ).order_by("-created_at")[:5]
        )
        context["denied"] = list(
            VerificationChallenge.objects.filter(
                user=user,
                status=VerificationChallenge.Status.DENIED,
                decided_at__gt=now - challenges.ANSWER_TTL,
            ).order_by("-decided_at")[:3]
        )
        context["accounts"] = _accounts(request, user)
        context["seconds_left"] = totp.PERIOD - int(now.timestamp()) % totp.PERIOD
    template = "demo/authenticator.html#app" if is_htmx(request) else "demo/authenticator.html"
    return render(request, template, context)


@never_cache
@simulators_only
@require_POST
def authenticator_respond(request: HttpRequest, challenge_id: uuid.UUID) -> HttpResponse:
    user = _holder(request)
    if user is None:
        raise Http404
    action = request.POST.get("action", "")
    if action == "fraud":
        outcome = challenges.fraud_report(
            challenge_id=str(challenge_id),
            user=user,
            context=flow.self_service_context(request, user),
        )
    else:
        outcome = challenges.notification_respond(
            challenge_id=str(challenge_id),
            user=user,
            approve=action == "approve",
            number=request.POST.get("number", ""),
        )
    if outcome.message:
        (messages.success if outcome.ok else messages.warning)(request, outcome.message)
    return redirect("demo:authenticator")
