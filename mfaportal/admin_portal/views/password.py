"""Reset a user's password to a temporary one (DESIGN §5.7), from the user detail page.

GET asks to confirm; POST generates the password and redirects to the page that shows it
(POST/redirect/GET), which reads it once (``mfa.shown_once``): a reload or Back says it is
no longer shown and issues no other, so the one already read out over the phone keeps
working. Never in a message or the session; the page is never stored (Cache-Control
no-store for signed-in pages). The user must replace it at the next sign-in; their
sessions end now.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from mfaportal.admin_portal.views.common import change_context
from mfaportal.admin_portal.views.detail import _changeable_or_403, methods_required
from mfaportal.directory.selectors import signed_in_user
from mfaportal.mfa.recovery import RecoveryRefused, password_reset_temporary, passwords_kept_here
from mfaportal.mfa.shown_once import TEMPORARY_PASSWORD, secret_hold, secret_take


@never_cache
@methods_required
@require_http_methods(["GET", "POST"])
def user_password_reset(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    user = _changeable_or_403(request, object_id)
    context = {"target": user, "passwords_here": passwords_kept_here()}
    if request.method == "POST":
        try:
            temporary = password_reset_temporary(user=user, context=change_context(request))
        except RecoveryRefused as refused:
            messages.error(request, refused.message)
            return redirect("admin_portal:user_detail", object_id=user.object_id)
        held = secret_hold(
            reader=signed_in_user(request), purpose=TEMPORARY_PASSWORD, value=temporary
        )
        return redirect(
            "admin_portal:user_password_shown", object_id=user.object_id, secret_id=held
        )
    return render(request, "admin_portal/user_password_reset.html", context)


@never_cache
@methods_required
@require_GET
def user_password_shown(
    request: HttpRequest, object_id: uuid.UUID, secret_id: uuid.UUID
) -> HttpResponse:
    """*Updates successful* with the temporary password, the first time only."""
    user = _changeable_or_403(request, object_id)
    shown = secret_take(
        secret_id=secret_id, reader=signed_in_user(request), purpose=TEMPORARY_PASSWORD
    )
    return render(
        request,
        "admin_portal/user_password_reset.html",
        {
            "target": user,
            "passwords_here": passwords_kept_here(),
            "shown": True,
            "temporary_password": shown.value if shown else "",
        },
    )
