"""Sign in with a Temporary Access Pass (issue 16.2), instead of the password and second
factor, then register methods again.

As at Microsoft, the pass is entered where the password would be: the sign-in page links
here ("Sign in with a Temporary Access Pass"). A pass is a strong credential, so no second
factor follows. A user whose MFA asks for registration goes through *More information
required*; everyone else is signed in and lands on their security info to add methods.
In graph mode people sign in at Microsoft Entra ID, where the pass is entered too.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mfaportal.core.client_ip import client_ip_for_trust
from mfaportal.mfa.models import ServiceSettings
from mfaportal.mfa.services.tap import temporary_access_pass_sign_in
from mfaportal.mfa.signin import Next, signin_next_step
from mfaportal.selfservice import flow
from mfaportal.selfservice.forms import TemporaryAccessPassSignInForm
from mfaportal.selfservice.views.signin import FRAUD_BLOCKED

logger = logging.getLogger(__name__)


@never_cache
@require_http_methods(["GET", "POST"])
def signin_with_pass(request: HttpRequest) -> HttpResponse:
    form = TemporaryAccessPassSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = temporary_access_pass_sign_in(
            user_principal_name=form.cleaned_data["username"],
            value=form.cleaned_data["temporary_access_pass"],
            address=flow.client_ip(request),
        )
        if check.user is None:
            form.add_error(None, check.error)
        else:
            user = check.user
            # The pass stands for the password and the second factor: only registration
            # (or a fraud block) is left of what the password would lead to.
            step = signin_next_step(
                user=user,
                ip_address=client_ip_for_trust(request),
                device_token="",
                service=ServiceSettings.load(),
            )
            logger.info("temporary access pass accepted for user %s; next: %s", user.pk, step)
            if step == Next.BLOCKED:
                form.add_error(None, FRAUD_BLOCKED)
            elif step == Next.REGISTER:
                flow.pending_start(request, user=user, next_url="", stage=flow.REGISTER)
                return redirect("signin_flow:more_information")
            else:
                flow.pending_clear(request)
                flow.signed_in(request, user)
                messages.info(
                    request,
                    _(
                        "You signed in with a Temporary Access Pass. Set up a verification "
                        "method now, such as the authenticator app on your new phone."
                    ),
                )
                return redirect("selfservice:setup")
    return render(request, "selfservice/signin_tap.html", {"form": form})
