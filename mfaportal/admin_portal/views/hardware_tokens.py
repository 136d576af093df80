"""Hardware OATH tokens (issue 16.3): the tenant's tokens with serial, owner and state, the
upload of Entra's token file, deactivate and delete; and the helpdesk's activation of a
user's token from the user detail page.

Every admin role reads the list (DESIGN §1: readers see every admin page); uploading,
deactivating and deleting need ``MANAGE_METHODS``, and the services ask ``mfa.policy`` about
the user a token belongs to (an Authentication Administrator only within its reach).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from mfaportal.admin_portal.forms import BulkUploadForm
from mfaportal.admin_portal.views.common import change_context
from mfaportal.admin_portal.views.detail import _changeable_or_403, methods_required
from mfaportal.core.modes import graph_mode
from mfaportal.core.params import db_text
from mfaportal.core.permissions import capability_required
from mfaportal.core.roles import Capability
from mfaportal.mfa.bulk_csv import MAX_BYTES, MAX_USERS, file_too_large_message
from mfaportal.mfa.models import HardwareOathToken
from mfaportal.mfa.oath_csv import HEADER
from mfaportal.mfa.services.oath_tokens import (
    oath_token_activate,
    oath_token_assign,
    oath_token_deactivate,
    oath_token_delete,
    oath_tokens_upload,
)

PER_PAGE = 100
# Refused lines kept in the session for the page after the upload (the first ones).
ERRORS_SHOWN = 100
RESULT_KEY = "hardware_token_upload"


def graph_mode_note() -> str:
    # hardwareoathauthenticationmethod-activate.md (beta): activation takes delegated
    # permissions only ("Application: Not supported"), and the portal's Graph client is an
    # application; authenticationmethoddevice-post-hardwareoathdevices.md is beta.
    return _(
        "Graph mode: hardware tokens are managed in the Microsoft Entra admin center. "
        "Microsoft Graph's hardware token API is in beta, and activating a token there needs "
        "a signed-in person's own permission, which this portal's application does not hold: "
        "upload and assign tokens in the admin center; users activate theirs in My Sign-Ins. "
        "Require re-registration still deactivates a user's tokens."
    )


def _page(request: HttpRequest, *, fatal: str = "", status: int = 200) -> HttpResponse:
    after = (db_text(request.GET.get("after", "")) or "")[:64]
    tokens = HardwareOathToken.objects.select_related("user").order_by("serial_number")
    if after:
        tokens = tokens.filter(serial_number__gt=after)
    rows = list(tokens[: PER_PAGE + 1])
    result = request.session.pop(RESULT_KEY, None)
    context: dict[str, Any] = {
        "tokens": rows[:PER_PAGE],
        "next_after": rows[PER_PAGE - 1].serial_number if len(rows) > PER_PAGE else "",
        "after": after,
        "form": BulkUploadForm(),
        "fatal": fatal,
        "result": result,
        "header": ",".join(HEADER),
        "max_tokens": MAX_USERS,
        "graph_note": graph_mode_note() if graph_mode() else "",
    }
    return render(request, "admin_portal/hardware_tokens.html", context, status=status)


@capability_required(Capability.VIEW_ADMIN, post=(Capability.MANAGE_METHODS,))
@require_http_methods(["GET", "POST"])
def hardware_tokens(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    if graph_mode():
        return _page(request, fatal=graph_mode_note(), status=409)
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > MAX_BYTES + 64 * 1024:
        return _page(request, fatal=file_too_large_message(), status=413)
    form = BulkUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        # As bulk update answers a form without a file: the page again, saying what's missing.
        return _page(request, fatal=_("Choose a CSV file to upload."))
    result = oath_tokens_upload(data=form.cleaned_data["file"], context=change_context(request))
    if result.fatal:
        return _page(request, fatal=result.fatal, status=400)
    request.session[RESULT_KEY] = {
        "created": result.created,
        "refused": len(result.errors),
        "errors": [
            {"line": error.line, "serial": error.username, "reason": error.reason}
            for error in result.errors[:ERRORS_SHOWN]
        ],
    }
    messages.success(
        request,
        ngettext(
            "%(count)d hardware token uploaded.",
            "%(count)d hardware tokens uploaded.",
            result.created,
        )
        % {"count": result.created},
    )
    return redirect("admin_portal:hardware_tokens")


def _owner_id(token_id: int) -> uuid.UUID | None:
    return (
        HardwareOathToken.objects.filter(pk=token_id, user__isnull=False)
        .values_list("user__object_id", flat=True)
        .first()
    )


def _done(request: HttpRequest, owner: uuid.UUID | None, refusal: str, done: str) -> HttpResponse:
    """Back where the action was asked: the user's detail page or the token list."""
    if refusal:
        messages.error(request, refusal)
    else:
        messages.success(request, done)
    if owner is not None and request.POST.get("back") == "user":
        return redirect("admin_portal:user_detail", object_id=owner)
    return redirect("admin_portal:hardware_tokens")


@capability_required(Capability.VIEW_ADMIN, Capability.MANAGE_METHODS)
@require_POST
def hardware_token_assign(request: HttpRequest, token_id: int) -> HttpResponse:
    if graph_mode():
        return _done(request, None, graph_mode_note(), "")
    refusal = oath_token_assign(
        token_id=token_id,
        user_principal_name=(db_text(request.POST.get("user", "")) or "")[:255],
        context=change_context(request),
    )
    return _done(request, None, refusal, _("The hardware token is assigned."))


@capability_required(Capability.VIEW_ADMIN, Capability.MANAGE_METHODS)
@require_POST
def hardware_token_deactivate(request: HttpRequest, token_id: int) -> HttpResponse:
    owner = _owner_id(token_id)
    refusal = oath_token_deactivate(token_id=token_id, context=change_context(request))
    return _done(request, owner, refusal, _("The hardware token has been deactivated."))


@capability_required(Capability.VIEW_ADMIN, Capability.MANAGE_METHODS)
@require_POST
def hardware_token_delete(request: HttpRequest, token_id: int) -> HttpResponse:
    owner = _owner_id(token_id)
    refusal = oath_token_delete(token_id=token_id, context=change_context(request))
    return _done(request, owner, refusal, _("The hardware token has been deleted."))


@methods_required
@require_POST
def user_hardware_token_activate(
    request: HttpRequest, object_id: uuid.UUID, token_id: int
) -> HttpResponse:
    """The helpdesk activates a user's token with a code the user reads from it."""
    user = _changeable_or_403(request, object_id)
    if graph_mode():
        messages.error(request, graph_mode_note())
        return redirect("admin_portal:user_detail", object_id=object_id)
    check = oath_token_activate(
        token_id=token_id,
        user=user,
        code=request.POST.get("code", "")[:20],
        context=change_context(request),
    )
    if check.ok:
        messages.success(request, _("The hardware token is activated."))
    else:
        messages.error(request, check.message)
    return redirect("admin_portal:user_detail", object_id=object_id)
