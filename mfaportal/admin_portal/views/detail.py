"""One user, for helpdesk (DESIGN §4.4): identity, roles, state, methods as MSOnline shows
them, app passwords, remembered devices, sign-ins, the audit trail, and the actions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from mfaportal.admin_portal.forms import ManageUserSettingsForm
from mfaportal.admin_portal.jobs import UserSettingsParams, user_settings_notes
from mfaportal.admin_portal.selection import Selection, quick_steps_for
from mfaportal.admin_portal.views.common import change_context
from mfaportal.core.models import AuditEvent
from mfaportal.core.outcome import Outcome
from mfaportal.core.permissions import capability_required, staff_required
from mfaportal.core.roles import Capability
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, SignInEvent, TemporaryAccessPass, VerificationMethod
from mfaportal.mfa.recovery import passwords_kept_here, recovery_contacts
from mfaportal.mfa.selectors import strong_authentication_methods, user_mfa
from mfaportal.mfa.selectors.users import UserFilter, users_selected
from mfaportal.mfa.services import (
    fraud_block_lift,
    sessions_revoke,
    user_settings_manage,
)
from mfaportal.mfa.services.passkeys import passkey_delete_for

AUDIT_SHOWN = 50
SIGNINS_SHOWN = 50


def _target(object_id: uuid.UUID) -> DirectoryUser:
    return get_object_or_404(
        DirectoryUser.objects.select_related("mfa").prefetch_related("roles"), object_id=object_id
    )


def _may_change(request: HttpRequest, user: DirectoryUser) -> bool:
    """Whether the page offers the actions on this user's methods, sessions and password
    (the services ask again)."""
    actor = signed_in_user(request)
    return not policy.may_change(
        policy.Actor(user_id=actor.pk, capabilities=actor.capabilities),
        policy.Target.of(user),
        policy.Action.REREGISTRATION,
    )


def _changeable_or_403(request: HttpRequest, object_id: uuid.UUID) -> DirectoryUser:
    """The user of an action on this page, if the actor may change them: else 403, as for a
    page the actor's role doesn't reach (the page offered no such action)."""
    user = _target(object_id)
    if not _may_change(request, user):
        raise PermissionDenied
    return user


# The actions on one user's methods, sessions and password (DESIGN §1).
methods_required = capability_required(Capability.VIEW_ADMIN, Capability.MANAGE_METHODS)


def _detail_context(request: HttpRequest, user: DirectoryUser) -> dict[str, Any]:
    mfa = user_mfa(user)
    methods = list(user.methods.all())
    state = MfaState(mfa.state)
    roles: list[DirectoryRole] = list(user.roles.all())
    selection = Selection(UserFilter(), users=users_selected([user.pk]), count=1)
    quick_steps = quick_steps_for(selection, signed_in_user(request))
    # Manage user settings is a form on this page rather than a dialog.
    quick_steps.steps = [step for step in quick_steps.steps if step != "manage"]
    return {
        "target": user,
        "mfa": mfa,
        "state": state,
        "roles": roles,
        "methods": methods,
        "passkeys": [m for m in methods if m.kind == VerificationMethod.Kind.PASSKEY],
        "strong_methods": strong_authentication_methods(methods, mfa.default_method),
        # MSOnline lists no requirement for a disabled user.
        "requirements": []
        if state == MfaState.DISABLED
        else [
            {
                "relying_party": "*",
                "state": state.label,
                "remember_devices_not_issued_before": mfa.remember_devices_not_issued_before,
            }
        ],
        "app_passwords": list(
            user.app_passwords.only(
                "name",
                "created_at",
                "last_used_at",
                "service",
                "last_used_service",
                "last_used_address",
            ).order_by("created_at")
        ),
        "devices": list(user.remembered_devices.all()),
        "sign_ins": list(
            SignInEvent.objects.filter(user=user).order_by("-at", "-id")[:SIGNINS_SHOWN]
        ),
        "audit": list(AuditEvent.objects.filter(target=user)[:AUDIT_SHOWN]),
        "selection": selection,
        "quick_steps": quick_steps,
        "may_change": _may_change(request, user),
        "settings_form": ManageUserSettingsForm(),
        # Account recovery (issue 7): masked contacts, registration, temporary password.
        "recovery": recovery_contacts(user),
        "passwords_here": passwords_kept_here(),
        # Temporary Access Pass (issue 16.2): the user's one pass, if any.
        "tap": (tap := TemporaryAccessPass.objects.filter(user=user).first()),
        "tap_usability": tap.usability(timezone.now()) if tap else "",
        # Hardware OATH tokens assigned to the user (issue 16.3).
        "hardware_tokens": list(user.hardware_oath_tokens.all()),
    }


@staff_required
@require_GET
def user_detail(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    user = _target(object_id)
    return render(request, "admin_portal/user_detail.html", _detail_context(request, user))


def _say(request: HttpRequest, outcome: Outcome, done: str) -> None:
    if outcome.skipped:
        messages.error(request, outcome.skipped[0].reason)
    else:
        messages.success(request, done)


@methods_required
@require_POST
def user_manage(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    user = _changeable_or_403(request, object_id)
    form = ManageUserSettingsForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, user)
        context["settings_form"] = form
        return render(request, "admin_portal/user_detail.html", context, status=400)
    outcome = user_settings_manage(
        users=DirectoryUser.objects.filter(pk=user.pk),
        require_reregistration=form.cleaned_data["require_reregistration"],
        delete_app_passwords=form.cleaned_data["delete_app_passwords"],
        restore_remembered_devices=form.cleaned_data["restore_remembered_devices"],
        context=change_context(request),
    )
    _say(request, outcome, _("Updates successful"))
    if outcome.changed:
        for note in user_settings_notes(UserSettingsParams(**form.cleaned_data)):
            messages.info(request, note)
    return redirect("admin_portal:user_detail", object_id=user.object_id)


def _one_user_step(
    request: HttpRequest,
    object_id: uuid.UUID,
    service: Callable[..., Outcome],
    success: str,
) -> HttpResponse:
    """Run a service on the user of this detail page and come back to it with the outcome."""
    user = _changeable_or_403(request, object_id)
    outcome = service(
        users=DirectoryUser.objects.filter(pk=user.pk), context=change_context(request)
    )
    _say(request, outcome, success % {"name": user.display_name})
    return redirect("admin_portal:user_detail", object_id=user.object_id)


@methods_required
@require_POST
def user_revoke_sessions(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    return _one_user_step(
        request,
        object_id,
        sessions_revoke,
        _("Updates successful: %(name)s is signed out of every session."),
    )


@methods_required
@require_POST
def user_passkey_delete(request: HttpRequest, object_id: uuid.UUID, method_id: int) -> HttpResponse:
    """A lost security key or passkey, deleted by the helpdesk (graph mode: by Graph)."""
    user = _changeable_or_403(request, object_id)
    outcome = passkey_delete_for(user=user, method_id=method_id, context=change_context(request))
    _say(
        request,
        outcome,
        _("Updates successful: the security key or passkey of %(name)s is deleted.")
        % {"name": user.display_name},
    )
    return redirect("admin_portal:user_detail", object_id=user.object_id)


@methods_required
@require_POST
def user_fraud_unblock(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    return _one_user_step(
        request,
        object_id,
        fraud_block_lift,
        _("Updates successful: %(name)s can sign in with multi-factor authentication again."),
    )
