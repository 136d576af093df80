"""Activating a hardware OATH token assigned to you (issue 16.3), from *Additional security
verification*: enter the code the token shows. The code proves you hold the token, so no
password is asked again (as adding an authenticator app proves the app with a code)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from mfaportal.core.permissions import signed_in_required
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa.services.oath_tokens import oath_token_activate
from mfaportal.selfservice import flow
from mfaportal.selfservice.views.elsewhere import kept_by_the_directory


@signed_in_required
@require_POST
@kept_by_the_directory
def hardware_token_activate(request: HttpRequest, token_id: int) -> HttpResponse:
    user = signed_in_user(request)
    check = oath_token_activate(
        token_id=token_id,
        user=user,
        code=request.POST.get("code", "")[:20],
        context=flow.self_service_context(request, user),
    )
    if check.ok:
        messages.success(
            request, _("Your hardware token is activated. You can sign in with its codes.")
        )
    else:
        messages.error(request, check.message)
    return redirect("selfservice:setup")
