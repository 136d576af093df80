"""Reset a user's password to a temporary one (DESIGN §5.7), from the user detail page.

GET asks to confirm; POST generates the password and shows it in that response only (the
page is never stored: Cache-Control no-store for signed-in pages), never in a message or
the session. The user must replace it at the next sign-in; their sessions end now.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mfaportal.admin_portal.views.common import change_context
from mfaportal.admin_portal.views.detail import _may_change, _target
from mfaportal.core.permissions import staff_required
from mfaportal.mfa.recovery import RecoveryRefused, password_reset_temporary, passwords_kept_here


@never_cache
@staff_required
@require_http_methods(["GET", "POST"])
def user_password_reset(request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
    user = _target(object_id)
    if not _may_change(request, user):
        raise PermissionDenied
    context = {"target": user, "passwords_here": passwords_kept_here()}
    if request.method == "POST":
        try:
            temporary = password_reset_temporary(user=user, context=change_context(request))
        except RecoveryRefused as refused:
            messages.error(request, refused.message)
            return redirect("admin_portal:user_detail", object_id=user.object_id)
        return render(
            request,
            "admin_portal/user_password_reset.html",
            {**context, "temporary_password": temporary},
        )
    return render(request, "admin_portal/user_password_reset.html", context)
