"""GraphClient: every call the portal makes to Microsoft Graph.

Each request has a timeout, an Authorization header and bounded retries: 429/503/504 and
network failures are retried after Retry-After (seconds or HTTP date) or an exponential,
jittered back-off, at most ``max_attempts`` times and ``max_retry_seconds`` of waiting.
Collections are streamed page by page, following ``@odata.nextLink`` verbatim.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import math
import random
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import requests

from mfaportal.core.chunks import chunked

from .auth import TokenSource, build_session, get_token_provider
from .concurrency import Pace, bounded_map
from .config import GraphConfig, graph_config_from_settings
from .errors import (
    DeltaTokenExpired,
    GraphError,
    GraphThrottled,
    GraphTimeout,
    GraphUnavailable,
    error_for_response,
)
from .types import (
    AUTHENTICATOR_METHOD_TYPE,
    FIDO2_METHOD_TYPE,
    PHONE_METHOD_TYPE,
    SOFTWARE_OATH_METHOD_TYPE,
    USER_SELECT,
    AuthMethod,
    BatchRequest,
    BatchResult,
    DeltaPage,
    GraphUser,
    MfaRequirements,
    PerUserMfaState,
    PerUserResult,
    RegistrationDetails,
    RoleAssignment,
    SignInPreferences,
    TemporaryAccessPassMethod,
)

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 503, 504})
# microsoftgraph/microsoft-graph-docs-contrib, concepts/throttling-limits.md, "Identity and
# access reports service limits": any request, "5 requests per 10 seconds" per app per tenant
# (userRegistrationDetails is such a report).
REPORTS_LIMIT = (5, 10.0)
# Graph counts a request when it arrives, a little after it left: the window is kept this
# much wider, so a paced request never arrives early.
PACE_MARGIN_SECONDS = 0.5
# Same page, "Identity and access service limits": the application+tenant resource-unit quota
# per 10 seconds by tenant size (S under 50 users, M 50-500, L above 500); a GET costs 1.
IDENTITY_QUOTA_PER_10S = ((50, 3_500), (500, 5_000), (None, 8_000))
MAX_BATCH_SIZE = 20  # Graph's limit per JSON batch
USER_ODATA_TYPE = "#microsoft.graph.user"
MAX_PAGE_SIZE = 999  # Graph's limit for $top on directory objects
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class GraphResponse:
    status: int
    headers: Mapping[str, str]
    body: Any
    request_id: str | None


@dataclass(frozen=True)
class CollectionPage:
    items: list[dict[str, Any]]
    next_link: str | None
    delta_link: str | None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """Case-insensitive header look-up in a plain dict (batch items' headers are plain)."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return None


def _quote_id(value: str) -> str:
    # Ids are GUIDs, but a UPN works too and may contain characters such as '#' or '/'.
    return quote(value, safe="@")


def identity_reads_per_10s(tenant_users: int) -> int:
    """Per-user reads a sync may send in 10 s: half the tenant's published quota, so the
    portal's own changes and sign-ins (and other apps of the tenant) keep the rest."""
    for below, quota in IDENTITY_QUOTA_PER_10S:
        if below is None or tenant_users < below:
            return quota // 2
    raise AssertionError("unreachable")


_paces_lock = threading.Lock()
_paces: dict[tuple[str, ...], Pace] = {}


def _shared_pace(config: GraphConfig, name: str, limit: int, window: float) -> Pace:
    """One pace per process per app and tenant: the limit is Graph's, not one client's."""
    key = (config.authority_host, config.tenant_id, config.client_id, name)
    with _paces_lock:
        pace = _paces.get(key)
        if pace is None:
            pace = Pace(limit, window, clock=time.monotonic, sleep=time.sleep)
            _paces[key] = pace
        return pace


class GraphClient:
    def __init__(
        self,
        config: GraphConfig,
        session: requests.Session | None = None,
        token_provider: TokenSource | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.session = session or build_session(config)
        self.token_provider = token_provider or get_token_provider(config)
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        limit, window = REPORTS_LIMIT
        self.report_pace: Pace | None
        if not config.paced:
            self.report_pace = None
        elif sleep is time.sleep and clock is time.monotonic:
            self.report_pace = _shared_pace(config, "reports", limit, window + PACE_MARGIN_SECONDS)
        else:
            self.report_pace = self.pace(limit, window + PACE_MARGIN_SECONDS)

    def pace(self, limit: int, window: float) -> Pace:
        """A pace on this client's clock (tests hand in one that does not wait); one that
        never waits when the config says not to pace (``GraphConfig.paced``)."""
        if not self.config.paced:
            limit = sys.maxsize
        return Pace(limit, window, clock=self._clock, sleep=self._sleep)

    def wait(self, seconds: float) -> None:
        """Wait on this client's clock (after Graph's Retry-After, before trying again)."""
        if seconds > 0:
            self._sleep(seconds)

    # --- URLs ----------------------------------------------------------------------------

    def url(
        self, path: str, *, version: str = "v1.0", params: Mapping[str, str] | None = None
    ) -> str:
        """Absolute URL for a Graph path such as ``/users``; ``$`` and quotes kept readable."""
        url = f"{self.config.graph_url}/{version}/{path.lstrip('/')}"
        if params:
            url += "?" + urlencode(params, safe="$,'()/:", quote_via=quote)
        return url

    def _check_same_host(self, url: str) -> None:
        # A nextLink/deltaLink is followed verbatim, but only to our Graph host: the bearer
        # token must never be sent anywhere else.
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.netloc.lower() != self.config.graph_host.lower():
            raise GraphError(
                None,
                "unexpectedLink",
                f"refusing to follow a link to another host: {urlsplit(url).netloc}",
            )

    # --- core request with retries -------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with jitter: half fixed, half random, so clients spread out."""
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        return float(ceiling / 2 + self._jitter() * ceiling / 2)

    def _send(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        deadline: float | None = None,
    ) -> requests.Response:
        """One logical request: retried on 429/503/504/network failures; other answers returned."""
        if deadline is None:
            deadline = self._clock() + self.config.max_retry_seconds
        path = urlsplit(url).path
        client_request_id = str(uuid.uuid4())
        attempt = 0
        token_renewed = False
        while True:
            attempt += 1
            request_headers = {
                "Accept": "application/json",
                "client-request-id": client_request_id,
                **(headers or {}),
                "Authorization": self.token_provider.get_access_token().authorization_header,
            }
            if attempt > 1:
                request_headers["retry-attempt"] = str(attempt - 1)
            retry_after: float | None = None
            started = self._clock()
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json_body,
                    headers=request_headers,
                    timeout=self.config.timeout,
                    allow_redirects=False,
                )
            except requests.Timeout:
                failure: GraphError = GraphTimeout(
                    None,
                    "timeout",
                    f"no answer within {self.config.timeout:g} s",
                    method=method,
                    url=path,
                )
            except requests.ConnectionError as exc:
                failure = GraphUnavailable(
                    None,
                    "connectionError",
                    f"connection failed: {type(exc).__name__}",
                    method=method,
                    url=path,
                )
            else:
                request_id = response.headers.get("request-id")
                logger.debug(
                    "graph %s %s -> %s in %.2fs (request-id %s)",
                    method,
                    path,
                    response.status_code,
                    self._clock() - started,
                    request_id,
                )
                if response.status_code == 401 and not token_renewed:
                    # A cached token Graph no longer accepts: renew it once and try again.
                    token_renewed = True
                    self.token_provider.invalidate()
                    continue
                if response.status_code not in RETRYABLE_STATUSES:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                failure = error_for_response(
                    response.status_code,
                    _decode_json(response),
                    request_id=request_id,
                    method=method,
                    url=path,
                    retry_after=retry_after,
                )
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            out_of_time = self._clock() + delay > deadline
            if attempt >= self.config.max_attempts or out_of_time:
                failure.message += (
                    f" (gave up after {attempt} attempt{'s' if attempt > 1 else ''}"
                    + (
                        f"; waiting {delay:.1f} s more would pass the retry time limit"
                        if out_of_time
                        else ""
                    )
                    + ")"
                )
                raise failure
            logger.warning(
                "graph %s %s: %s %s, retry %d in %.1f s",
                method,
                path,
                failure.status or "no answer",
                failure.code,
                attempt,
                delay,
            )
            self._sleep(delay)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> GraphResponse:
        """Send a request (relative path or absolute Graph URL); raise a typed error unless 2xx."""
        if path_or_url.startswith("https://"):
            self._check_same_host(path_or_url)
            url = path_or_url
        else:
            url = self.url(path_or_url, version=version, params=params)
        response = self._send(method, url, json_body=json_body, headers=headers)
        body = _decode_json(response)
        request_id = response.headers.get("request-id")
        if not 200 <= response.status_code < 300:
            raise error_for_response(
                response.status_code,
                body,
                request_id=request_id,
                method=method,
                url=urlsplit(url).path,
            )
        return GraphResponse(response.status_code, response.headers, body, request_id)

    def _get_object(
        self, path: str, *, version: str = "v1.0", params: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        answer = self.request("GET", path, version=version, params=params)
        if not isinstance(answer.body, dict):
            raise GraphError(
                answer.status, "invalidResponse", "expected a JSON object", answer.request_id
            )
        return answer.body

    def pages(self, url: str, *, pace: Pace | None = None) -> Iterator[CollectionPage]:
        """Stream a collection: one request per page, following @odata.nextLink verbatim."""
        next_url: str | None = url
        while next_url:
            with pace.slot() if pace is not None else contextlib.nullcontext():
                body = self._get_object(next_url)
            items = body.get("value")
            if not isinstance(items, list):
                raise GraphError(200, "invalidResponse", "collection answer without a 'value' list")
            next_url = body.get("@odata.nextLink")
            yield CollectionPage(
                items=[item for item in items if isinstance(item, dict)],
                next_link=next_url,
                delta_link=body.get("@odata.deltaLink"),
            )

    def _collect(self, url: str, parse: Callable[[dict[str, Any]], T]) -> list[T]:
        return [parse(item) for page in self.pages(url) for item in page.items]

    # --- users -------------------------------------------------------------------------

    def users_list(
        self, *, select: Sequence[str] = USER_SELECT, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[list[GraphUser]]:
        """Every user, one list per page (stream them; 100k users are ~100 pages)."""
        url = self.url("/users", params={"$select": ",".join(select), "$top": str(page_size)})
        for page in self.pages(url):
            yield [GraphUser.from_graph(item) for item in page.items]

    def user_get(self, user_id: str, *, select: Sequence[str] = USER_SELECT) -> GraphUser:
        return GraphUser.from_graph(
            self._get_object(f"/users/{_quote_id(user_id)}", params={"$select": ",".join(select)})
        )

    def users_delta(
        self, delta_link: str | None = None, *, select: Sequence[str] = USER_SELECT
    ) -> Iterator[DeltaPage]:
        """Changes since ``delta_link`` (all users when None), page by page.

        Apply each page as it comes; the last page has ``delta_link`` set: store it only once
        every page has been applied. Raises DeltaTokenExpired when Graph no longer knows the
        stored link: drop it and call again without one (a full sync).
        """
        if delta_link:
            if urlsplit(delta_link).netloc.lower() != self.config.graph_host.lower():
                raise DeltaTokenExpired(
                    None,
                    "deltaLinkForeignHost",
                    "the stored deltaLink points at another Graph host",
                )
            url = delta_link
        else:
            # Query options go on the first call only; Graph folds them into the links.
            url = self.url("/users/delta", params={"$select": ",".join(select)})
        pages = self.pages(url)
        while True:
            try:
                page = next(pages)
            except StopIteration:
                return
            except GraphError as error:
                if error.status == 410 and not isinstance(error, DeltaTokenExpired):
                    # "410 (gone) and a Location header containing a request URL with an
                    # empty $deltaToken ... the application must restart with a full
                    # synchronization" (delta query overview), with or without an error body.
                    raise DeltaTokenExpired(
                        410,
                        error.code if error.code != "unknown" else "gone",
                        "Graph answered 410 Gone: restart with a full synchronization",
                        error.request_id,
                        method=error.method,
                        url=error.url,
                    ) from error
                raise
            yield DeltaPage(
                users=[GraphUser.from_graph(item) for item in page.items],
                next_link=page.next_link,
                delta_link=page.delta_link,
            )

    def revoke_sign_in_sessions(self, user_id: str) -> bool:
        answer = self.request("POST", f"/users/{_quote_id(user_id)}/revokeSignInSessions")
        # Documented as 200 {"value": true}; a known issue returns other 2xx codes.
        return not (isinstance(answer.body, dict) and answer.body.get("value") is False)

    # --- roles ---------------------------------------------------------------------------

    def role_assignments(self, role_definition_id: str) -> list[RoleAssignment]:
        """Active assignments of one directory role, with the principal expanded (a user, a
        role-assignable group or an app), at any scope (``directory_scope_id``)."""
        return self._role_records("roleAssignments", "roleDefinitionId", role_definition_id)

    def role_eligibilities(self, role_definition_id: str) -> list[RoleAssignment]:
        """Who may activate one directory role in Privileged Identity Management (its
        ``roleEligibilityScheduleInstances``), with the principal expanded."""
        return self._role_records(
            "roleEligibilityScheduleInstances", "roleDefinitionId", role_definition_id
        )

    def roles_of(self, principal_id: str, *, eligible: bool = False) -> list[RoleAssignment]:
        """The active (or, with ``eligible``, the eligible) roles of one user or group."""
        collection = "roleEligibilityScheduleInstances" if eligible else "roleAssignments"
        return self._role_records(collection, "principalId", principal_id)

    def _role_records(self, collection: str, field_name: str, value: str) -> list[RoleAssignment]:
        url = self.url(
            f"/roleManagement/directory/{collection}",
            params={"$filter": f"{field_name} eq '{value}'", "$expand": "principal"},
        )
        return self._collect(url, RoleAssignment.from_graph)

    def group_member_ids(self, group_id: str) -> list[str]:
        """The users in a group (a role-assignable group has no nested groups)."""
        url = self.url(
            f"/groups/{_quote_id(group_id)}/members",
            params={"$select": "id", "$top": str(MAX_PAGE_SIZE)},
        )
        return [
            str(item["id"])
            for page in self.pages(url)
            for item in page.items
            if item.get("@odata.type") == USER_ODATA_TYPE and "id" in item
        ]

    def role_assignable_groups_of(self, user_id: str) -> list[str]:
        """The role-assignable groups a user is a member of (they may hold roles)."""
        url = self.url(
            f"/users/{_quote_id(user_id)}/memberOf/microsoft.graph.group",
            params={"$select": "id,isAssignableToRole"},
        )
        return [
            str(item["id"])
            for page in self.pages(url)
            for item in page.items
            if item.get("isAssignableToRole") is True and "id" in item
        ]

    # --- per-user MFA (beta) -------------------------------------------------------------

    def _requirements_path(self, user_id: str) -> str:
        return f"/users/{_quote_id(user_id)}/authentication/requirements"

    def user_requirements_get(self, user_id: str) -> MfaRequirements:
        return MfaRequirements.from_graph(
            self._get_object(self._requirements_path(user_id), version="beta")
        )

    def user_requirements_set(self, user_id: str, state: PerUserMfaState | str) -> None:
        """PATCH perUserMfaState (204). Graph turns ``enabled`` into ``enforced`` for a user who
        already has methods registered."""
        self.request(
            "PATCH",
            self._requirements_path(user_id),
            version="beta",
            json_body={"perUserMfaState": str(PerUserMfaState(state))},
        )

    def _sign_in_preferences_path(self, user_id: str) -> str:
        return f"/users/{_quote_id(user_id)}/authentication/signInPreferences"

    def sign_in_preferences_get(self, user_id: str) -> SignInPreferences:
        return SignInPreferences.from_graph(
            self._get_object(self._sign_in_preferences_path(user_id), version="beta")
        )

    def sign_in_preferences_set(
        self,
        user_id: str,
        *,
        user_preferred_method: str | None = None,
        system_preferred_enabled: bool | None = None,
    ) -> None:
        body: dict[str, Any] = {}
        if user_preferred_method is not None:
            body["userPreferredMethodForSecondaryAuthentication"] = user_preferred_method
        if system_preferred_enabled is not None:
            body["isSystemPreferredAuthenticationMethodEnabled"] = system_preferred_enabled
        if not body:
            raise ValueError("nothing to change")
        self.request(
            "PATCH", self._sign_in_preferences_path(user_id), version="beta", json_body=body
        )

    # --- reports -------------------------------------------------------------------------

    def registration_details(
        self, *, version: str = "v1.0", page_size: int | None = None
    ) -> Iterator[list[RegistrationDetails]]:
        """The tenant's registration report, one list per page.

        Reports are limited to 5 requests per 10 s per app and tenant (``REPORTS_LIMIT``):
        pages are paced to it, and retried after Retry-After like everything else. ``$top``
        is sent only when asked for, as the docs do not list it. A tenant without Entra ID
        P1/P2 is refused (403 ``Authentication_RequestFromNonPremiumTenantOrB2CTenant``).
        """
        params = {"$top": str(page_size)} if page_size else None
        url = self.url(
            "/reports/authenticationMethods/userRegistrationDetails", version=version, params=params
        )
        for page in self.pages(url, pace=self.report_pace):
            yield [RegistrationDetails.from_graph(item) for item in page.items]

    # --- authentication methods ----------------------------------------------------------

    def _methods_path(self, user_id: str, collection: str) -> str:
        return f"/users/{_quote_id(user_id)}/authentication/{collection}"

    def auth_methods_list(self, user_id: str) -> list[AuthMethod]:
        return self._collect(
            self.url(self._methods_path(user_id, "methods")), AuthMethod.from_graph
        )

    def phone_methods_list(self, user_id: str) -> list[AuthMethod]:
        return self._collect(
            self.url(self._methods_path(user_id, "phoneMethods")),
            lambda item: AuthMethod.from_graph(item, default_type=PHONE_METHOD_TYPE),
        )

    def phone_method_add(self, user_id: str, phone_number: str, phone_type: str) -> AuthMethod:
        """POST a phone (201). Number format ``+1 5555551234`` or ``+1 5555551234x123``; one phone
        per type, and a mobile must exist before an alternateMobile."""
        answer = self.request(
            "POST",
            self._methods_path(user_id, "phoneMethods"),
            json_body={"phoneNumber": phone_number, "phoneType": phone_type},
        )
        return AuthMethod.from_graph(answer.body, default_type=PHONE_METHOD_TYPE)

    def phone_method_update(self, user_id: str, method_id: str, phone_number: str) -> None:
        """PATCH the number (204). The type cannot change: add the new type, delete the old."""
        self.request(
            "PATCH",
            f"{self._methods_path(user_id, 'phoneMethods')}/{_quote_id(method_id)}",
            json_body={"phoneNumber": phone_number},
        )

    def phone_method_delete(self, user_id: str, method_id: str) -> None:
        self.request(
            "DELETE", f"{self._methods_path(user_id, 'phoneMethods')}/{_quote_id(method_id)}"
        )

    def temporary_access_pass_create(
        self,
        user_id: str,
        *,
        lifetime_minutes: int,
        is_usable_once: bool,
        start: str | None = None,
    ) -> TemporaryAccessPassMethod:
        """POST a Temporary Access Pass (201; v1.0 *Create temporaryAccessPassMethod*). The
        answer carries the pass, the only time Graph ever shows it; a pass the user already
        held is replaced. ``start``: ISO 8601 with an offset (omitted: now)."""
        body: dict[str, Any] = {
            "lifetimeInMinutes": lifetime_minutes,
            "isUsableOnce": is_usable_once,
        }
        if start is not None:
            body["startDateTime"] = start
        answer = self.request(
            "POST", self._methods_path(user_id, "temporaryAccessPassMethods"), json_body=body
        )
        return TemporaryAccessPassMethod.from_graph(answer.body)

    def temporary_access_pass_delete(self, user_id: str, method_id: str) -> None:
        self.request(
            "DELETE",
            f"{self._methods_path(user_id, 'temporaryAccessPassMethods')}/{_quote_id(method_id)}",
        )

    def authenticator_methods_list(self, user_id: str) -> list[AuthMethod]:
        return self._collect(
            self.url(self._methods_path(user_id, "microsoftAuthenticatorMethods")),
            lambda item: AuthMethod.from_graph(item, default_type=AUTHENTICATOR_METHOD_TYPE),
        )

    def authenticator_method_delete(self, user_id: str, method_id: str) -> None:
        self.request(
            "DELETE",
            self._methods_path(user_id, "microsoftAuthenticatorMethods")
            + "/"
            + _quote_id(method_id),
        )

    def software_oath_methods_list(self, user_id: str) -> list[AuthMethod]:
        return self._collect(
            self.url(self._methods_path(user_id, "softwareOathMethods")),
            lambda item: AuthMethod.from_graph(item, default_type=SOFTWARE_OATH_METHOD_TYPE),
        )

    def software_oath_method_delete(self, user_id: str, method_id: str) -> None:
        self.request(
            "DELETE", f"{self._methods_path(user_id, 'softwareOathMethods')}/{_quote_id(method_id)}"
        )

    def fido2_methods_list(self, user_id: str) -> list[AuthMethod]:
        """Passkeys and FIDO2 security keys (fido2authenticationmethod-list.md)."""
        return self._collect(
            self.url(self._methods_path(user_id, "fido2Methods")),
            lambda item: AuthMethod.from_graph(item, default_type=FIDO2_METHOD_TYPE),
        )

    def fido2_method_delete(self, user_id: str, method_id: str) -> None:
        """fido2authenticationmethod-delete.md (204). Graph has no way to register one for
        another user: its owner does, at My Sign-Ins."""
        self.request(
            "DELETE", f"{self._methods_path(user_id, 'fido2Methods')}/{_quote_id(method_id)}"
        )

    # --- JSON $batch -----------------------------------------------------------------------

    def batch(
        self, requests_: Iterable[BatchRequest], *, version: str = "v1.0"
    ) -> list[BatchResult]:
        """Send requests in JSON batches of at most 20; results come back in request order.

        Items answered 429/503/504 are sent again (alone, in a smaller batch) after the
        largest inner Retry-After, within the same attempt and time limits as any request.
        Items that still fail, or fail otherwise, carry a typed ``error``: one bad item
        never fails the others.
        """
        items = list(requests_)
        for position, item in enumerate(items, start=1):
            if not item.id:
                item.id = str(position)
        if len({item.id.lower() for item in items}) != len(items):
            raise ValueError("batch request ids must be unique (case-insensitively)")
        results: dict[str, BatchResult] = {}
        for chunk in chunked(items, MAX_BATCH_SIZE):
            results.update(self._batch_chunk(chunk, version))
        return [results[item.id] for item in items]

    def _batch_chunk(self, chunk: Sequence[BatchRequest], version: str) -> dict[str, BatchResult]:
        url = self.url("/$batch", version=version)
        deadline = self._clock() + self.config.max_retry_seconds
        pending = {item.id: item for item in chunk}
        done: dict[str, BatchResult] = {}
        last_failures: dict[str, tuple[int, dict[str, str], Any]] = {}
        attempt = 0
        while pending:
            attempt += 1
            response = self._send(
                "POST",
                url,
                json_body={"requests": [item.to_graph() for item in pending.values()]},
                headers={"Content-Type": "application/json"},
                deadline=deadline,
            )
            envelope = _decode_json(response)
            responses = envelope.get("responses") if isinstance(envelope, dict) else None
            if not isinstance(responses, list):
                if response.status_code == 424:
                    # throttling.md: "the batch itself fails with 424" — nothing per item to
                    # go on, so every pending item counts as throttled.
                    responses = []
                else:
                    raise error_for_response(
                        response.status_code,
                        envelope,
                        request_id=response.headers.get("request-id"),
                        method="POST",
                        url=urlsplit(url).path,
                    )
            retry_after_values: list[float] = []
            answered: set[str] = set()
            for answer in responses:
                if not isinstance(answer, dict):
                    continue
                item_id = str(answer.get("id"))
                if item_id not in pending:
                    continue
                answered.add(item_id)
                status = int(answer.get("status") or 0)
                item_headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
                item_body = _decode_batch_body(answer.get("body"))
                if status in RETRYABLE_STATUSES:
                    last_failures[item_id] = (status, item_headers, item_body)
                    retry_after = parse_retry_after(_header(item_headers, "Retry-After"))
                    if retry_after is not None:
                        retry_after_values.append(retry_after)
                    continue
                done[item_id] = _batch_result(pending.pop(item_id), status, item_headers, item_body)
            for item_id in pending.keys() - answered:
                # Unanswered (or a bare 424 envelope): treat like a throttled item.
                last_failures.setdefault(
                    item_id,
                    (response.status_code if response.status_code != 200 else 503, {}, None),
                )
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    retry_after_values.append(retry_after)
            if not pending:
                break
            delay = max(retry_after_values) if retry_after_values else self._backoff(attempt)
            if attempt >= self.config.max_attempts or self._clock() + delay > deadline:
                for item_id, item in pending.items():
                    status, item_headers, item_body = last_failures[item_id]
                    done[item_id] = _batch_result(item, status, item_headers, item_body)
                break
            logger.warning(
                "graph $batch: %d of %d items throttled/unavailable, retry %d in %.1f s",
                len(pending),
                len(chunk),
                attempt,
                delay,
            )
            self._sleep(delay)
        return done

    # --- batched helpers -------------------------------------------------------------------

    def each_batch(
        self, items: Iterable[T], call: Callable[[list[T]], R], *, pace: Pace | None = None
    ) -> Iterator[tuple[list[T], R | BaseException]]:
        """``call`` on ``items`` one ``$batch``-sized piece at a time, ``config.concurrency``
        pieces in flight, answers in order (a piece whose call raised yields the error).
        With a ``pace``, each piece waits for room for its items before it is sent.

        ``items`` is pulled as answers come back, so a generator of every user streams."""
        pieces: Iterable[list[T]] = chunked(items, MAX_BATCH_SIZE)
        if pace is not None:
            pieces = _paced(pieces, pace)
        return bounded_map(call, pieces, workers=self.config.concurrency)

    def _per_user(
        self,
        user_ids: Sequence[str],
        requests_: Sequence[BatchRequest],
        parse: Callable[[Any], T],
        *,
        version: str,
    ) -> list[PerUserResult[T]]:
        outcomes: list[PerUserResult[T]] = []
        for user_id, result in zip(user_ids, self.batch(requests_, version=version), strict=True):
            if result.error is not None:
                outcomes.append(PerUserResult(user_id, error=result.error))
                continue
            try:
                outcomes.append(PerUserResult(user_id, value=parse(result.body)))
            except (KeyError, TypeError, ValueError) as exc:
                outcomes.append(
                    PerUserResult(
                        user_id,
                        error=GraphError(
                            result.status, "invalidResponse", f"unreadable answer: {exc}"
                        ),
                    )
                )
        return outcomes

    def requirements_get_many(
        self, user_ids: Sequence[str]
    ) -> list[PerUserResult[MfaRequirements]]:
        requests_ = [BatchRequest("GET", self._requirements_path(user_id)) for user_id in user_ids]
        return self._per_user(user_ids, requests_, MfaRequirements.from_graph, version="beta")

    def requirements_set_many(
        self, changes: Sequence[tuple[str, PerUserMfaState | str]]
    ) -> list[PerUserResult[None]]:
        user_ids = [user_id for user_id, _ in changes]
        requests_ = [
            BatchRequest(
                "PATCH",
                self._requirements_path(user_id),
                body={"perUserMfaState": str(PerUserMfaState(state))},
            )
            for user_id, state in changes
        ]
        return self._per_user(user_ids, requests_, lambda _body: None, version="beta")

    def sign_in_preferences_get_many(
        self, user_ids: Sequence[str]
    ) -> list[PerUserResult[SignInPreferences]]:
        requests_ = [
            BatchRequest("GET", self._sign_in_preferences_path(user_id)) for user_id in user_ids
        ]
        return self._per_user(user_ids, requests_, SignInPreferences.from_graph, version="beta")

    def auth_methods_list_many(
        self, user_ids: Sequence[str], *, version: str = "v1.0"
    ) -> list[PerUserResult[list[AuthMethod]]]:
        """Each user's methods (one page each: a user has a handful of methods). Beta also
        lists hardware OATH tokens, which v1.0 does not know."""
        requests_ = [
            BatchRequest("GET", self._methods_path(user_id, "methods")) for user_id in user_ids
        ]
        return self._per_user(
            user_ids,
            requests_,
            lambda body: [AuthMethod.from_graph(item) for item in body["value"]],
            version=version,
        )

    def method_path(self, user_id: str, collection: str, method_id: str) -> str:
        """The path of one method, relative to the version (for a ``BatchRequest``)."""
        return f"{self._methods_path(user_id, collection)}/{_quote_id(method_id)}"

    def sign_in_preferences_path(self, user_id: str) -> str:
        return self._sign_in_preferences_path(user_id)

    def revoke_sign_in_sessions_many(self, user_ids: Sequence[str]) -> list[PerUserResult[None]]:
        requests_ = [
            BatchRequest("POST", f"/users/{_quote_id(user_id)}/revokeSignInSessions")
            for user_id in user_ids
        ]
        return self._per_user(user_ids, requests_, lambda _body: None, version="v1.0")


def _paced(pieces: Iterable[list[T]], pace: Pace) -> Iterator[list[T]]:
    for piece in pieces:
        pace.take(len(piece))
        yield piece


def _decode_json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _decode_batch_body(body: Any) -> Any:
    # Inner JSON bodies normally arrive as objects; tolerate one serialized as a string.
    if isinstance(body, str) and body[:1] in ("{", "["):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _batch_result(
    item: BatchRequest, status: int, headers: dict[str, str], body: Any
) -> BatchResult:
    error = None
    if not 200 <= status < 300:
        error = error_for_response(
            status,
            body,
            request_id=_header(headers, "request-id"),
            method=item.method,
            url=item.url,
            retry_after=parse_retry_after(_header(headers, "Retry-After")),
        )
        if isinstance(error, GraphThrottled | GraphUnavailable | GraphTimeout):
            error.message += " (batch item; gave up after the allowed retries)"
    return BatchResult(id=item.id, status=status, headers=headers, body=body, error=error)


def client_from_settings() -> GraphClient:
    """A client for the configured tenant; the MSAL application behind it is one per process."""
    return GraphClient(graph_config_from_settings())
