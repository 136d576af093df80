"""The legacy client endpoint (DESIGN §5.5): HTTP Basic for Outlook, IMAP and friends.

``GET /legacy/auth`` answers 200 with the user's name, 401 with ``WWW-Authenticate``, or
429 with ``Retry-After``. It works as an nginx ``auth_request`` target. Which secret works
follows DESIGN §3: Disabled → the password; Enabled → the password until the user has
registered, app passwords too; Enforced → app passwords only, except from a trusted IP range
for a user who has created none. Failures are counted per
user and per address in the database, so every worker process shares the limits.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta

from django.contrib.auth.hashers import check_password
from django.db.models import Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mfaportal.core.client_ip import client_ip
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import throttle
from mfaportal.mfa.models import (
    AppPassword,
    MfaState,
    ServiceSettings,
    ThrottleBucket,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.services.app_passwords import (
    app_password_digest,
    app_password_match,
    app_password_used,
)
from mfaportal.mfa.signin import _DUMMY_HASH
from mfaportal.mfa.trusted_ips import ip_is_trusted

logger = logging.getLogger(__name__)

REALM = 'Basic realm="MFA Portal legacy clients", charset="UTF-8"'
PER_USER = throttle.Limit(count=10, window=timedelta(minutes=5), block=timedelta(minutes=5))
PER_ADDRESS = throttle.Limit(count=50, window=timedelta(minutes=5), block=timedelta(minutes=5))


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username or len(username) > 255 or len(password) > 256:
        return None
    return username.strip(), password


def _unauthorized() -> HttpResponse:
    response = JsonResponse({"error": "unauthorized"}, status=401)
    response["WWW-Authenticate"] = REALM
    return response


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"legacy:user:{username.lower()}", f"legacy:address:{address}"


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD"])
def legacy_auth(request: HttpRequest) -> HttpResponse:
    credentials = _credentials(request)
    if credentials is None:
        return _unauthorized()
    username, secret = credentials
    address = client_ip(request) or "unknown"
    user_key, address_key = _keys(username, address)
    if fast := _app_password_fast_path(username, secret, [user_key, address_key]):
        return fast
    if blocked := throttle.bucket_blocked_for([user_key, address_key]):
        return _too_many(blocked)
    user = _authenticate(username, secret, address)
    if user is None:
        throttle.bucket_hit(user_key, PER_USER)
        throttle.bucket_hit(address_key, PER_ADDRESS)
        logger.info("legacy sign-in refused for %r from %s", username[:64], address)
        return _unauthorized()
    return JsonResponse(
        {"userPrincipalName": user.user_principal_name, "displayName": user.display_name}
    )


def _too_many(seconds: int) -> HttpResponse:
    response = JsonResponse({"error": "too_many_attempts"}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _app_password_fast_path(username: str, secret: str, keys: list[str]) -> HttpResponse | None:
    """The common case, a valid app password, in one query: the indexed digest look-up
    joined to its user and MFA row, with the admin's policy and the rate-limit state as
    subqueries. Anything else (no match, another user's, a policy refusal) returns None
    and goes the general way, which decides it."""
    now = timezone.now()
    match = (
        AppPassword.objects.filter(digest=app_password_digest(secret))
        .select_related("user", "user__mfa")
        .annotate(
            policy_allows=Subquery(
                ServiceSettings.objects.filter(pk=1).values("app_passwords_allowed")[:1]
            ),
            blocked_until=Subquery(
                ThrottleBucket.objects.filter(key__in=keys, blocked_until__gt=now)
                .order_by("-blocked_until")
                .values("blocked_until")[:1]
            ),
        )
        .first()
    )
    if match is None:
        return None
    if match.blocked_until is not None:
        return _too_many(throttle.seconds_left(match.blocked_until, now))
    user = match.user
    try:
        mfa = user.mfa
    except UserMfa.DoesNotExist:
        return None
    if (
        match.policy_allows
        and user.account_enabled
        and user.user_principal_name.lower() == username.lower()
        and mfa.state in (MfaState.ENABLED, MfaState.ENFORCED)
        and mfa.blocked_for_fraud_at is None
    ):
        app_password_used(match)
        return JsonResponse(
            {"userPrincipalName": user.user_principal_name, "displayName": user.display_name}
        )
    return None


def _authenticate(username: str, secret: str, address: str) -> DirectoryUser | None:
    user = (
        DirectoryUser.objects.by_upn(username)
        .select_related("mfa")
        .only(
            "id",
            "user_principal_name",
            "display_name",
            "account_enabled",
            "password",
            "password_must_change",
            "mfa__state",
            "mfa__must_register",
            "mfa__blocked_for_fraud_at",
        )
        .first()
    )
    if user is None or not user.account_enabled:
        check_password(secret, _DUMMY_HASH)  # the same time as a real check
        return None
    try:
        mfa = user.mfa
    except UserMfa.DoesNotExist:
        mfa = UserMfa(user=user)
    if mfa.state == MfaState.DISABLED:
        return user if _password_ok(user, secret) else None
    if mfa.blocked_for_fraud_at is not None:
        return None
    app_password = None
    service = ServiceSettings.load()
    if service.app_passwords_allowed:
        app_password = app_password_match(user_id=user.pk, value=secret)
    if app_password is not None:
        app_password_used(app_password)
        return user
    if mfa.state == MfaState.ENABLED:
        registered = not mfa.must_register and VerificationMethod.objects.filter(user=user).exists()
        if not registered and _password_ok(user, secret):
            return user
    # Trusted IPs (service settings), as Microsoft documents them: inside the corporate
    # network app passwords aren't required "if the user hasn't created an app password.
    # After an app password is in use, the password is required." Outside, they are.
    if (
        ip_is_trusted(address, service.trusted_ip_ranges)
        and not AppPassword.objects.filter(user=user).exists()
        and _password_ok(user, secret)
    ):
        return user
    return None


def _password_ok(user: DirectoryUser, secret: str) -> bool:
    # A temporary password is for the sign-in page only, where it must be replaced.
    matches = user.check_password(secret)
    return matches and not user.password_must_change
