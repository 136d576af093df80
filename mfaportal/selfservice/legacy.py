"""The legacy client endpoint (DESIGN §5.5): HTTP Basic for Outlook, IMAP and friends.

``GET /legacy/auth`` answers 200 with the user's name, 401 with ``WWW-Authenticate``, or
429 with ``Retry-After``. It works as an nginx ``auth_request`` target. Which secret works
follows DESIGN §3: Disabled → the password; Enabled → the password until the user has
registered, app passwords too; Enforced → app passwords only, except from a trusted IP range
for a user who has created none. Failures are counted per (user, address) and per address,
with a higher per-user ceiling, in the database, so every worker process shares the limits.

An app password may be bound to one service (issue 16.4): the request names it as
``?service=NAME`` or ``X-MFA-Service`` (400 for an unknown one), and a password bound to
another service gets 403 with its own reason (see ``_not_for_this_service``).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections, router
from django.db.models import F, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from mfaportal.core.client_ip import client_ip, client_ip_for_trust
from mfaportal.core.prepared import Prepared, Wrap, prepared_rows
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import throttle
from mfaportal.mfa.models import (
    AppPassword,
    MfaState,
    ServiceSettings,
    SignInAsked,
    SignInClient,
    SignInReason,
    SignInResult,
    ThrottleBucket,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.services.app_passwords import (
    app_password_allows,
    app_password_digest,
    app_password_match,
    app_password_service_parse,
    app_password_used,
)
from mfaportal.mfa.services.signin_log import signin_record, signin_record_with, signin_recorded
from mfaportal.mfa.signin import (
    GuessLimits,
    address_is_familiar,
    familiar_address_note,
    guess_counters,
    password_hash_check,
)
from mfaportal.mfa.trusted_ips import ip_is_trusted

logger = logging.getLogger(__name__)

REALM = 'Basic realm="MFA Portal legacy clients", charset="UTF-8"'
# As for browser sign-in (mfa/signin.py): per (account, address) and per address, and per
# account only a higher ceiling that addresses the user signed in from before don't meet.
LIMITS = GuessLimits(
    per_account_and_address=throttle.Limit(
        count=10, window=timedelta(minutes=5), block=timedelta(minutes=5)
    ),
    per_address=throttle.Limit(count=50, window=timedelta(minutes=5), block=timedelta(minutes=5)),
    ceiling=throttle.Limit(count=100, window=timedelta(minutes=15), block=timedelta(minutes=15)),
)


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


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD"])
def legacy_auth(request: HttpRequest) -> HttpResponse:
    service = _service(request)
    if service is None:
        # A configuration mistake in the client or in nginx, not a guess: say so at once.
        return JsonResponse({"error": "unknown_service"}, status=400)
    credentials = _credentials(request)
    if credentials is None:
        return _unauthorized()
    username, secret = credentials
    address = client_ip(request)
    # The ceiling per account (the third counter) is the general way's business: a valid
    # app password can't be guessed, and the per-address limits still apply to it.
    pair, per_address, ceiling = guess_counters(
        scope="legacy", user_principal_name=username, address=address, limits=LIMITS, familiar=False
    )
    if fast := _app_password_fast_path(
        username, secret, [pair.key, per_address.key], service=service, address=address
    ):
        return fast
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
    if address_is_familiar(user, address):
        ceiling = replace(ceiling, enforced=False)
    counters = [pair, per_address, ceiling]
    # Reserved before the password hash is checked: parallel guesses get no more checks
    # than the limits allow.
    if blocked := throttle.attempt_reserve(counters):
        _logged(Verdict(None, SignInAsked.PASSWORD, SignInReason.LOCKED), user, username, address)
        return _too_many(blocked)
    try:
        verdict = _authenticate(
            user,
            secret,
            inside=client_ip_for_trust(request),
            service=service,
            address=address or "",
        )
    except _BoundElsewhere as bound:
        # Holding a valid app password is no guess: the reserved attempt is given back.
        throttle.attempt_succeeded(counters)
        _logged(_NOT_FOR_THIS_SERVICE, user, username, address)
        return _not_for_this_service(bound.app_password, service)
    _logged(verdict, user, username, address)
    accepted = verdict.user
    if accepted is None:
        throttle.attempt_failed(counters)
        logger.info("legacy sign-in refused for %r from %s", username[:64], address)
        return _unauthorized()
    throttle.attempt_succeeded(counters)
    familiar_address_note(user=accepted, address=address)
    return JsonResponse(
        {"userPrincipalName": accepted.user_principal_name, "displayName": accepted.display_name}
    )


def _service(request: HttpRequest) -> str | None:
    """The service the request is for (issue 16.4): ``?service=NAME`` or the header
    ``X-MFA-Service`` that nginx sets per location; "" when neither names one, None when
    either names an unknown service or the two disagree."""
    named = {
        request.GET.get("service", "").strip().lower(),
        request.headers.get("X-MFA-Service", "").strip().lower(),
    } - {""}
    if len(named) > 1:
        return None
    try:
        return app_password_service_parse(named.pop() if named else "")
    except ValueError:
        return None


class _BoundElsewhere(Exception):
    def __init__(self, app_password: AppPassword) -> None:
        super().__init__(app_password.pk)
        self.app_password = app_password


def _not_for_this_service(app_password: AppPassword, service: str) -> HttpResponse:
    """A valid app password bound to another application. Its own answer, not the wrong
    password's 401: the sender holds an unguessable secret, so nothing is told to a
    guesser, and the person (or helpdesk) learns why one app works and another doesn't
    instead of creating passwords in vain. 403 is what nginx ``auth_request`` passes on."""
    logger.info(
        "legacy sign-in refused: app password %s is for %r, the request for %r",
        app_password.pk,
        app_password.service,
        service or "no service",
    )
    return JsonResponse({"error": "app_password_not_for_this_service"}, status=403)


@dataclass(frozen=True)
class Verdict:
    """Who a secret signs in (None: nobody), what it was taken for, and why it failed."""

    user: DirectoryUser | None
    asked: SignInAsked = SignInAsked.PASSWORD
    reason: SignInReason = SignInReason.NONE


def _logged(
    verdict: Verdict, account: DirectoryUser | None, typed_name: str, address: str | None
) -> None:
    """One row in the sign-in log, whatever the answer (so every answer costs the same)."""
    signin_record(
        client=SignInClient.LEGACY,
        asked=verdict.asked,
        result=SignInResult.FAILURE if verdict.user is None else SignInResult.SUCCESS,
        reason=verdict.reason,
        user=account,
        typed_name=typed_name,
        address=address,
    )


# A valid app password bound to another application (issue 16.4), as the log words it.
_NOT_FOR_THIS_SERVICE = Verdict(None, SignInAsked.APP_PASSWORD, SignInReason.NOT_ALLOWED)


def _too_many(seconds: int) -> HttpResponse:
    response = JsonResponse({"error": "too_many_attempts"}, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _fast_path_query(
    digest: str, pair_key: str, address_key: str, now: datetime
) -> QuerySet[AppPassword]:
    return AppPassword.objects.filter(digest=digest).annotate(
        user_principal_name=F("user__user_principal_name"),
        user_display_name=F("user__display_name"),
        user_enabled=F("user__account_enabled"),
        mfa_state=F("user__mfa__state"),
        mfa_blocked_for_fraud_at=F("user__mfa__blocked_for_fraud_at"),
        policy_allows=Subquery(
            ServiceSettings.objects.filter(pk=1).values("app_passwords_allowed")[:1]
        ),
        blocked_until=Subquery(
            ThrottleBucket.objects.filter(key__in=[pair_key, address_key], blocked_until__gt=now)
            .order_by("-blocked_until")
            .values("blocked_until")[:1]
        ),
    )


# Compiled once per database (core.prepared): these stand in for each request's values.
_FAST_PATH = Prepared(
    _fast_path_query,
    (
        "stand-in digest " + "d" * 48,
        "stand-in pair key " + "p" * 40,
        "stand-in address key " + "a" * 40,
        datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC),
    ),
)


def _aware(value: Any) -> datetime | None:
    """A datetime read in a raw query's extra column, which no field converts: SQLite gives
    its text, or a naive datetime, in UTC (as Django stores it there)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(str(value))
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _recording_success(username: str, service: str, address: str | None) -> Wrap:
    """The look-up that also records the sign-in as a success where the checks below would
    answer 200, and only there: the same conditions, the user name compared exactly as
    stored (a name typed in another case is recorded by its own statement after)."""

    def wrap(sql: str, params: list[Any], alias: str) -> tuple[str, list[Any]]:
        return signin_record_with(
            sql,
            params,
            when=(
                "found.policy_allows AND found.user_enabled"
                " AND found.user_principal_name = %s"
                " AND found.mfa_state IN (%s, %s)"
                " AND found.mfa_blocked_for_fraud_at IS NULL"
                " AND found.blocked_until IS NULL"
                " AND (found.service = '' OR found.service = %s)"
            ),
            when_params=[username, int(MfaState.ENABLED), int(MfaState.ENFORCED), service],
            client=SignInClient.LEGACY,
            asked=SignInAsked.APP_PASSWORD,
            result=SignInResult.SUCCESS,
            typed_name=username,
            address=address,
            alias=alias,
        )

    return wrap


def _app_password_fast_path(
    username: str, secret: str, keys: list[str], *, service: str, address: str | None
) -> HttpResponse | None:
    """The common case, a valid app password, in one query: the indexed digest look-up
    joined to its user and MFA row, with the admin's policy and the rate-limit state as
    subqueries. Anything else (no match, another user's, a policy refusal) returns None
    and goes the general way, which decides it."""
    now = timezone.now()
    values = (app_password_digest(secret), *keys, now)
    alias = router.db_for_read(AppPassword)
    if connections[alias].vendor == "postgresql":
        # The success's sign-in row written by the look-up itself: one round trip.
        wrap = _recording_success(username, service, address)
        found = prepared_rows(_FAST_PATH, AppPassword, values, wrap=wrap, extra=("recorded",))
    else:  # in-process: a second statement costs next to nothing
        found = prepared_rows(_FAST_PATH, AppPassword, values)
    if not found:
        return None
    # Any: the annotations are attributes the model does not declare.
    match: Any = found[0]
    user = DirectoryUser(
        pk=match.user_id,
        user_principal_name=match.user_principal_name,
        display_name=match.user_display_name,
        account_enabled=bool(match.user_enabled),
    )
    blocked_until = _aware(match.blocked_until)
    if blocked_until is not None:
        locked = Verdict(None, SignInAsked.APP_PASSWORD, SignInReason.LOCKED)
        named = user.user_principal_name.lower() == username.lower()
        _logged(locked, user if named else None, username, address)
        return _too_many(throttle.seconds_left(blocked_until, now))
    if match.mfa_state is None:  # no MFA row: the general way decides
        return None
    if (
        match.policy_allows
        and user.account_enabled
        and user.user_principal_name.lower() == username.lower()
        and match.mfa_state in (MfaState.ENABLED, MfaState.ENFORCED)
        and match.mfa_blocked_for_fraud_at is None
    ):
        if not app_password_allows(match, service):
            _logged(_NOT_FOR_THIS_SERVICE, user, username, address)
            return _not_for_this_service(match, service)
        app_password_used(match, service=service, address=address or "")
        if getattr(match, "recorded", 0):
            signin_recorded()
        else:
            _logged(Verdict(user, SignInAsked.APP_PASSWORD), user, username, address)
        return JsonResponse(
            {"userPrincipalName": user.user_principal_name, "displayName": user.display_name}
        )
    return None


def _authenticate(
    user: DirectoryUser | None,
    secret: str,
    inside: str | None,
    *,
    service: str = "",
    address: str = "",
) -> Verdict:
    """Who the secret signs in, by DESIGN §3. Every answer costs exactly one password-hash
    verification (against a dummy hash when there is no real one to check), so the time
    taken tells nothing about whether the user exists or which state they are in. Raises
    _BoundElsewhere for the user's app password bound to another service."""
    enabled = user if user is not None and user.account_enabled else None
    # A temporary password is for the sign-in page only, where it must be replaced.
    password_right = password_hash_check(enabled, secret)
    password_ok = password_right and not (enabled is not None and enabled.password_must_change)
    if user is None:
        return Verdict(None, reason=SignInReason.UNKNOWN_USER)
    if enabled is None:
        return Verdict(None, reason=SignInReason.ACCOUNT_DISABLED)
    refused = Verdict(
        None,
        reason=SignInReason.NOT_ALLOWED if password_right else SignInReason.WRONG_PASSWORD,
    )
    try:
        mfa = enabled.mfa
    except UserMfa.DoesNotExist:
        mfa = UserMfa(user=enabled)
    if mfa.state == MfaState.DISABLED:
        return Verdict(enabled) if password_ok else refused
    if mfa.blocked_for_fraud_at is not None:
        return Verdict(None, reason=SignInReason.FRAUD_BLOCK)
    app_password = None
    settings_row = ServiceSettings.load()
    if settings_row.app_passwords_allowed:
        app_password = app_password_match(user_id=enabled.pk, value=secret)
    if app_password is not None:
        if not app_password_allows(app_password, service):
            raise _BoundElsewhere(app_password)
        app_password_used(app_password, service=service, address=address)
        return Verdict(enabled, SignInAsked.APP_PASSWORD)
    if mfa.state == MfaState.ENABLED:
        registered = (
            not mfa.must_register and VerificationMethod.objects.filter(user=enabled).exists()
        )
        if not registered and password_ok:
            return Verdict(enabled)
    # Trusted IPs (service settings), as Microsoft documents them: inside the corporate
    # network app passwords aren't required "if the user hasn't created an app password.
    # After an app password is in use, the password is required." Outside, they are.
    if (
        password_ok
        and ip_is_trusted(inside, settings_row.trusted_ip_ranges)
        and not AppPassword.objects.filter(user=enabled).exists()
    ):
        return Verdict(enabled)
    return refused
