"""*Update your password* (DESIGN §5.7): a temporary password is replaced at sign-in before
anything else opens.

The person is not signed in yet: the half-finished sign-in waits at the PASSWORD_CHANGE
stage (the middleware keeps every other page away). A user with registered methods has
answered the second factor already; a user who must register does it after this page.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import throttle
from mfaportal.mfa.models import ServiceSettings
from mfaportal.mfa.recovery import RecoveryRefused, password_change_forced
from mfaportal.mfa.signin import Next, signin_next_step
from mfaportal.selfservice import flow, flows
from mfaportal.selfservice.forms import UpdatePasswordForm
from mfaportal.selfservice.views.signin import FRAUD_BLOCKED

logger = logging.getLogger(__name__)

# Where a signed-in user's error waits for the page (a half-finished sign-in keeps it in its flow).
_ERROR_KEY = "update_password_error"

CURRENT_PASSWORD_LIMIT = throttle.Limit(
    count=5, window=timedelta(minutes=15), block=timedelta(minutes=15)
)


def _who(request: HttpRequest) -> tuple[DirectoryUser | None, flow.Pending | None, bool]:
    """The user replacing a temporary password, the sign-in under way, and whether they
    are signed in already (a signed-in user flagged by other means, kept by the middleware
    on this page)."""
    user = request.user
    if user.is_authenticated and isinstance(user, DirectoryUser):
        return (user, None, True) if user.password_must_change else (None, None, True)
    found = flow.pending(request, stage=flow.PASSWORD_CHANGE)
    return (found.user if found else None), found, False


@sensitive_post_parameters("current_password", "new_password", "confirm_password")
@never_cache
@require_http_methods(["GET", "POST"])
def update_password(request: HttpRequest) -> HttpResponse:
    user, found, signed_in = _who(request)
    if user is None:
        if signed_in:
            return redirect("home")
        return flow.where_it_stands(request)
    form = UpdatePasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        # The attempt is taken before the hash is checked: parallel guesses get no more.
        counters = [throttle.Counter(f"password-change:user:{user.pk}", CURRENT_PASSWORD_LIMIT)]
        if blocked := throttle.attempt_reserve(counters):
            return _show_again(request, found, _wait_message(blocked))
        if not user.check_password(form.cleaned_data["current_password"]):
            throttle.attempt_failed(counters)
            return _show_again(request, found, _("Your current password is incorrect."))
        throttle.attempt_succeeded(counters)
        try:
            # The new password and the sign-in it finishes, together.
            with transaction.atomic():
                password_change_forced(
                    user=user,
                    new_password=form.cleaned_data["new_password"],
                    context=flow.self_service_context(request, user),
                )
                response = _continue(request, user, found)
        except RecoveryRefused as refused:
            form.add_error("new_password", refused.message)
        except flows.FlowMoved:
            return flow.where_it_stands(request)
        else:
            throttle.bucket_clear(counters[0].key)
            return response
    return render(
        request,
        "selfservice/update_password.html",
        {
            "form": form,
            "error": _error_taken(request, found) if request.method == "GET" else "",
            "pending_user": user,
            "password_rules": password_validators_help_text_html(),
        },
    )


def _show_again(request: HttpRequest, found: flow.Pending | None, error: str) -> HttpResponse:
    """Back to the page with what went wrong (POST/redirect/GET: a reload never posts the
    passwords again, so it counts no other failure). The error waits in the sign-in's flow,
    or in the session of a user signed in already."""
    if found is not None:
        flows.flow_advance(found.flow, password_error=error)
    else:
        request.session[_ERROR_KEY] = error
    return redirect("signin_flow:update_password")


def _error_taken(request: HttpRequest, found: flow.Pending | None) -> str:
    """The error kept by ``_show_again``, shown once."""
    if found is None:
        return str(request.session.pop(_ERROR_KEY, ""))
    error = str(found.flow.get("password_error") or "")
    if error:
        flows.flow_advance(found.flow, drop=("password_error",))
    return error


def _wait_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return _(
        "You've entered an incorrect current password too many times. Try again in %(minutes)d "
        "minutes."
    ) % {"minutes": minutes}


def _continue(
    request: HttpRequest, user: DirectoryUser, found: flow.Pending | None
) -> HttpResponse:
    """The password is new: go on with the sign-in where it stood."""
    if found is None:
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password has been updated."))
        return redirect("home")
    # The password hash changed, and the half-finished sign-in is bound to it.
    moved = flows.flow_move(found.flow, auth_hash=user.get_session_auth_hash())
    if moved.get("second_factor_done"):
        return flow.signin_finish(request, user, moved, remember=bool(moved.get("remember")))
    step = signin_next_step(
        user=user,
        ip_address=flow.client_ip(request),
        device_token=flow.remembered_token(request, user),
        service=ServiceSettings.load(),
    )
    logger.info("temporary password replaced for user %s; next: %s", user.pk, step)
    if step == Next.SIGNED_IN:
        return flow.signin_finish(request, user, moved)
    if step == Next.REGISTER:
        flows.flow_move(moved, stage=flow.REGISTER)
        return redirect("signin_flow:more_information")
    if step == Next.CHALLENGE:
        flows.flow_move(moved, stage=flow.CHALLENGE)
        return redirect("signin_flow:verify")
    flow.pending_clear(request)
    messages.error(request, FRAUD_BLOCKED)
    return redirect("signin")
