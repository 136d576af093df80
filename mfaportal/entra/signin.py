"""Staff sign-in with Microsoft Entra ID (graph mode): the OpenID Connect authorization-code
flow through MSAL, with PKCE, state and nonce.

Why ``response_mode=form_post``: MSAL recommends it (it warns on ``query``, and its docs say
query responses will go away), and it keeps the authorization code out of the URL, so the
code never reaches access logs, browser history or a ``Referer``. The answer then arrives
as a *cross-site POST* from the identity provider, which does not carry the portal's
``SameSite=Lax`` session cookie; the flow therefore cannot wait in the session. Instead it is
kept server-side in a record of its own (a database session store entry), named by a
short-lived cookie that is ``SameSite=None; Secure; HttpOnly`` and scoped to the callback
path. That cookie binds the answer to the browser that started the sign-in (an attacker's
code posted from elsewhere finds no flow), MSAL checks ``state`` and the id token's
``nonce``, and the record is deleted on first use, so a replayed answer finds nothing.

Who may sign in: people whose directory roles (read from Graph at sign-in, not from the
cache) open the admin pages: one of the roles of DESIGN §1 (``core.roles.CAPABILITIES``),
each giving what Entra gives it.
Everyone else manages their security info with Microsoft.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.sessions.backends.db import SessionStore
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from mfaportal.core.client_ip import client_ip
from mfaportal.core.modes import graph_mode
from mfaportal.core.roles import Capability
from mfaportal.directory.models import DirectoryUser
from mfaportal.directory.services import session_proof_mark
from mfaportal.entra.sync import user_refresh
from mfaportal.graph import (
    AuthFlowError,
    AuthNonceMismatch,
    AuthStateMismatch,
    GraphError,
    TokenError,
    client_from_settings,
    get_token_provider,
    graph_config_from_settings,
)
from mfaportal.mfa.models import SignInAsked, SignInClient, SignInReason, SignInResult
from mfaportal.mfa.services.signin_log import signin_record

logger = logging.getLogger(__name__)

FLOW_COOKIE = "mfaportal_entra_flow"
# Long enough to type a password and answer MFA at Microsoft, short enough to be useless later.
FLOW_MAX_AGE = 600

RESTART = gettext_lazy("Start the sign-in again.")
# `amr` values that mean a second factor was used: "mfa", and "ngcmfa", which Microsoft's
# token reference gives as equivalent to it (provisioning of advanced credential types).
MFA_AMR_VALUES = frozenset({"mfa", "ngcmfa"})


def _logged(
    request: HttpRequest,
    user: DirectoryUser | None,
    result: SignInResult,
    reason: SignInReason,
) -> None:
    """A staff sign-in through Entra ID, in the portal's sign-in log (issue 16.5)."""
    if user is None:
        return
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked.ENTRA_ID,
        result=result,
        reason=reason,
        user=user,
        address=client_ip(request),
    )


def _refuse(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    return render(
        request,
        "entra/signin_error.html",
        {"message": message, "restart": RESTART},
        status=status,
    )


def _safe_next(request: HttpRequest, next_url: str) -> str:
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("home")


@require_GET
def entra_start(request: HttpRequest) -> HttpResponse:
    """Begin: keep the flow server-side, send the browser to the identity platform."""
    if not graph_mode():
        raise Http404
    try:
        provider = get_token_provider(graph_config_from_settings())
        flow: dict[str, Any] = provider.initiate_auth_code_flow(
            request.build_absolute_uri(reverse("entra:callback")),
            login_hint=request.GET.get("login_hint") or None,
            response_mode="form_post",
        )
    except (GraphError, ValueError) as error:
        logger.error("cannot start an Entra ID sign-in: %s", error)
        return _refuse(
            request,
            _("The sign-in service can't be reached right now. Try again in a few minutes."),
            status=503,
        )
    store = SessionStore()
    store["flow"] = flow
    store["next"] = _safe_next(request, request.GET.get("next", ""))
    store.set_expiry(FLOW_MAX_AGE)
    store.create()
    assert store.session_key is not None  # create() made one
    response = redirect(flow["auth_uri"])
    response.set_cookie(
        FLOW_COOKIE,
        store.session_key,
        max_age=FLOW_MAX_AGE,
        path=reverse("entra:callback"),
        secure=True,
        httponly=True,
        samesite="None",
    )
    return response


# CSRF: the answer is a cross-site POST by design. It is bound to this browser by the flow
# cookie and to this sign-in by `state`, which MSAL checks.
@csrf_exempt
@require_POST
def entra_callback(request: HttpRequest) -> HttpResponse:
    if not graph_mode():
        raise Http404
    key = request.COOKIES.get(FLOW_COOKIE, "")
    store = SessionStore(session_key=key or None)
    flow = store.get("flow") if key else None
    next_url = str(store.get("next") or reverse("home")) if key else reverse("home")
    if key:
        store.delete()  # single use: a replayed answer finds no flow
    response = _complete(request, flow, next_url)
    response.delete_cookie(FLOW_COOKIE, path=reverse("entra:callback"), samesite="None")
    return response


def _complete(request: HttpRequest, flow: dict[str, Any] | None, next_url: str) -> HttpResponse:
    if not flow:
        return _refuse(
            request,
            _(
                "This sign-in answer doesn't belong to a sign-in started in this browser, "
                "or it was already used."
            ),
        )
    answer = {name: request.POST.get(name, "") for name in request.POST}
    if answer.get("error"):
        logger.info("Entra ID answered %s", answer.get("error"))
        return _refuse(
            request,
            _("Microsoft Entra ID did not sign you in: %(reason)s")
            % {"reason": answer.get("error_description") or answer["error"]},
            status=403,
        )
    config = graph_config_from_settings()
    provider = get_token_provider(config)
    try:
        signed_in = provider.complete_auth_code_flow(flow, answer)
    except AuthStateMismatch:
        return _refuse(request, _("This sign-in answer doesn't match the sign-in you started."))
    except AuthNonceMismatch:
        return _refuse(request, _("The identity token was not issued for this sign-in."))
    except TokenError as error:
        logger.warning("Entra ID refused the code: %s", error.code)
        if error.code == "invalid_grant":
            return _refuse(request, _("This sign-in code was already used or has expired."))
        return _refuse(
            request, _("Microsoft Entra ID refused the sign-in (%(code)s).") % {"code": error.code}
        )
    except AuthFlowError as error:
        logger.warning("Entra ID sign-in answer rejected: %s", error)
        return _refuse(request, _("The sign-in answer could not be checked."))
    # `tid` is the tenant's GUID; MFAPORTAL_TENANT_ID may name the tenant by a verified
    # domain instead, so the comparison is with the GUID the identity platform resolved.
    if signed_in.tenant_id.lower() != provider.tenant_guid.lower():
        return _refuse(request, _("Your account belongs to another organization."), status=403)
    if not MFA_AMR_VALUES & set(signed_in.amr):
        # The portal changes other people's sign-in methods: a password alone is not enough.
        logger.warning("staff sign-in of %s without MFA (amr %s)", signed_in.oid, signed_in.amr)
        return _refuse(
            request,
            _(
                "Sign in with multi-factor authentication to use this portal: your sign-in "
                "used a password only. Ask your administrator to require multi-factor "
                "authentication for this app."
            ),
            status=403,
        )
    try:
        user = user_refresh(client=client_from_settings(), object_id=signed_in.oid)
    except GraphError as error:
        logger.error("cannot read the roles of %s from Graph: %s", signed_in.oid, error)
        return _refuse(
            request,
            _(
                "Your admin roles couldn't be read from Microsoft Graph, so the portal can't "
                "tell what you may do. Try again in a few minutes."
            ),
            status=503,
        )
    if user is None or not user.account_enabled:
        _logged(request, user, SignInResult.FAILURE, SignInReason.ACCOUNT_DISABLED)
        return _refuse(request, _("Your account can't sign in to this portal."), status=403)
    if Capability.VIEW_ADMIN not in user.capabilities:
        _logged(request, user, SignInResult.FAILURE, SignInReason.NOT_ALLOWED)
        return render(
            request,
            "entra/signin_error.html",
            {
                "message": _(
                    "This portal is for administrators and helpdesk staff of your organization."
                ),
                "my_sign_ins_url": config.my_sign_ins_url,
            },
            status=403,
        )
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    _logged(request, user, SignInResult.SUCCESS, SignInReason.NONE)
    # Entra ID's sign-in (its password and whatever second factor its policies ask) is
    # this session's proof; the portal's own step-up pages are not used in graph mode.
    session_proof_mark(session=request.session)
    logger.info(
        "staff user %s signed in with Entra ID, may %s",
        user.pk,
        ", ".join(sorted(user.capabilities)),
    )
    # 303: the browser follows with a GET, which now carries the new session cookie.
    response = redirect(next_url)
    response.status_code = 303
    return response
