"""Issue a Temporary Access Pass (issue 16.2) from the user detail page.

GET shows the form (lifetime, start time, one-time use); POST issues the pass and redirects
to the page that shows it (POST/redirect/GET), which reads it once (``mfa.shown_once``): a
reload or Back says it is no longer shown and issues no other.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mfaportal.admin_portal.tap_forms import TemporaryAccessPassForm
from mfaportal.admin_portal.views.common import change_context
from mfaportal.admin_portal.views.detail import _changeable_or_403, methods_required
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa.models import TemporaryAccessPass
from mfaportal.mfa.services.tap import (
    TemporaryAccessPassRefused,
    temporary_access_pass_create,
    temporary_access_pass_delete,
)
from mfaportal.mfa.shown_once import TEMPORARY_ACCESS_PASS, secret_hold, secret_take

TEMPLATE = "admin_portal/user_tap.html"


@never_cache
@methods_required
@require_http_methods(["GET", "POST"])
def user_tap(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    user = _changeable_or_403(request, object_id)
    form = TemporaryAccessPassForm(request.POST or None)
    current = TemporaryAccessPass.objects.filter(user=user).first()
    if request.method == "POST" and form.is_valid():
        try:
            _issued, value = temporary_access_pass_create(
                user=user,
                lifetime_minutes=form.cleaned_data["lifetime_minutes"],
                one_time=form.cleaned_data["one_time"],
                starts_at=form.cleaned_data["starts_at"],
                context=change_context(request),
            )
        except TemporaryAccessPassRefused as refused:
            form.add_error(None, refused.message)
        else:
            held = secret_hold(
                reader=signed_in_user(request), purpose=TEMPORARY_ACCESS_PASS, value=value
            )
            return redirect("admin_portal:user_tap_shown", object_id=user.object_id, secret_id=held)
    status = 400 if request.method == "POST" else 200
    return render(
        request, TEMPLATE, {"target": user, "form": form, "current": current}, status=status
    )


@never_cache
@methods_required
@require_GET
def user_tap_shown(
    request: HttpRequest, object_id: uuid.UUID, secret_id: uuid.UUID
) -> HttpResponse:
    """*Updates successful* with the pass, the first time only."""
    user = _changeable_or_403(request, object_id)
    shown = secret_take(
        secret_id=secret_id, reader=signed_in_user(request), purpose=TEMPORARY_ACCESS_PASS
    )
    return render(
        request,
        TEMPLATE,
        {
            "target": user,
            "shown": True,
            "temporary_access_pass": shown.value if shown else "",
            "issued": TemporaryAccessPass.objects.filter(user=user).first(),
        },
    )


@methods_required
@require_POST
def user_tap_delete(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    user = _changeable_or_403(request, object_id)
    try:
        deleted = temporary_access_pass_delete(user=user, context=change_context(request))
    except TemporaryAccessPassRefused as refused:
        messages.error(request, refused.message)
    else:
        if deleted:
            messages.success(
                request,
                _("Updates successful: the Temporary Access Pass of %(name)s is deleted.")
                % {"name": user.display_name},
            )
    return redirect("admin_portal:user_detail", object_id=user.object_id)
