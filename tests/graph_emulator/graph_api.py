"""The Graph half of the emulator: v1.0 and beta routes, answered from the in-memory tenant.

Every route is a plain function of (request) → response, so JSON $batch items go through the
same code as top-level requests.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from .tenant import (
    DEFAULT_MFA_METHOD,
    PASSWORD_METHOD_ID,
    PER_USER_MFA_STATES,
    PHONE_METHOD_IDS,
    PHONE_NUMBER,
    PHONE_TYPES_IN_ORDER,
    PREFERRED_METHOD_NEEDS,
    USER_PROPERTY_NAMES,
    Fido2Key,
    HardwareOath,
    TemporaryAccessPass,
    Tenant,
    User,
    iso,
)

if TYPE_CHECKING:
    from .server import GraphEmulator

# What Graph returns for a user when no $select is given.
DEFAULT_USER_PROPERTIES = (
    "businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName",
)  # fmt: skip
MAX_BATCH_REQUESTS = 20
JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


@dataclass
class Request:
    method: str
    # Percent-decoded path, e.g. /v1.0/users/abc/authentication/methods
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any = None
    raw_body: bytes = b""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CONTENT_TYPE


def now_iso() -> str:
    return iso(datetime.now(UTC))


def graph_error(status: int, code: str, message: str, **headers: str) -> Response:
    request_id = str(uuid.uuid4())
    return Response(
        status,
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": now_iso(),
                    "request-id": request_id,
                    "client-request-id": request_id,
                },
            }
        },
        headers={"request-id": request_id, **headers},
    )


def not_found(what: str) -> Response:
    return graph_error(
        404,
        "Request_ResourceNotFound",
        f"Resource '{what}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def segment_not_found(segment: str) -> Response:
    return graph_error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def encode_token(state: dict[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (ValueError, TypeError):
        return None
    return state if isinstance(state, dict) else None


class GraphApi:
    def __init__(self, emulator: GraphEmulator) -> None:
        self.emulator = emulator
        self._random = random.Random(7)

    @property
    def tenant(self) -> Tenant:
        return self.emulator.tenant

    def link(self, version: str, path: str, params: dict[str, str]) -> str:
        query = urlencode(params, safe="$,'()", quote_via=quote)
        return f"{self.emulator.graph_url}/{version}/{path}?{query}"

    def context(self, version: str, fragment: str) -> str:
        return f"{self.emulator.graph_url}/{version}/$metadata#{fragment}"

    # --- dispatch ---------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        match = re.match(r"^/(v1\.0|beta)(/.*)?$", request.path)
        if not match:
            return graph_error(400, "BadRequest", "Invalid version.")
        version = match.group(1)
        segments = [s for s in (match.group(2) or "").split("/") if s]
        method = request.method.upper()
        handler = self._route(version, segments, method)
        if handler is None:
            return segment_not_found(segments[-1] if segments else version)
        with self.tenant.lock:
            return handler(request)

    def _route(
        self, version: str, seg: list[str], method: str
    ) -> Callable[[Request], Response] | None:
        n = len(seg)
        if seg == ["$batch"] and method == "POST":
            return lambda r: self.batch(r, version)
        if seg == ["users"] and method == "GET":
            return lambda r: self.users_list(r, version)
        if seg == ["users", "delta"] and method == "GET":
            return lambda r: self.users_delta(r, version)
        if seg == ["roleManagement", "directory", "roleAssignments"] and method == "GET":
            return lambda r: self.role_assignments(r, version)
        if (
            seg == ["roleManagement", "directory", "roleEligibilityScheduleInstances"]
            and method == "GET"
        ):
            return lambda r: self.role_assignments(r, version, eligible=True)
        if n == 3 and seg[0] == "groups" and seg[2] == "members" and method == "GET":
            group_id = seg[1]
            return lambda r: self.group_members(r, group_id, version)
        if (
            seg == ["reports", "authenticationMethods", "userRegistrationDetails"]
            and method == "GET"
        ):
            return lambda r: self.registration_details(r, version)
        if n < 2 or seg[0] != "users":
            return None
        user_key = seg[1]

        def with_user(action: Callable[[Request, User], Response]) -> Callable[[Request], Response]:
            def run(request: Request) -> Response:
                user = self.tenant.find(user_key)
                if user is None:
                    return not_found(user_key)
                return action(request, user)

            return run

        if n == 2 and method == "GET":
            return with_user(lambda r, u: self.user_get(r, u, version))
        if seg[2:] in (["memberOf"], ["memberOf", "microsoft.graph.group"]) and method == "GET":
            return with_user(lambda r, u: self.member_of(u, version))
        if n == 3 and seg[2] == "revokeSignInSessions" and method == "POST":
            return with_user(lambda r, u: self.revoke_sessions(u, version))
        if n < 4 or seg[2] != "authentication":
            return None
        area = seg[3]
        if area in ("requirements", "signInPreferences"):
            # Structural properties of beta's `authentication`; v1.0 has neither.
            if version != "beta" or n != 4 or method not in ("GET", "PATCH"):
                return None
            actions = {
                ("requirements", "GET"): self.requirements_get,
                ("requirements", "PATCH"): self.requirements_patch,
                ("signInPreferences", "GET"): self.preferences_get,
                ("signInPreferences", "PATCH"): self.preferences_patch,
            }
            return with_user(actions[(area, method)])
        if area == "methods" and n == 4 and method == "GET":
            return with_user(lambda r, u: self.methods_list(u, version))
        if area == "phoneMethods":
            if n == 4 and method == "GET":
                return with_user(lambda r, u: self.phone_list(u, version))
            if n == 4 and method == "POST":
                return with_user(lambda r, u: self.phone_add(r, u, version))
            if n == 5 and method in ("GET", "PATCH", "DELETE"):
                method_id = seg[4]
                return with_user(lambda r, u: self.phone_one(r, u, method_id, version))
        if area == "hardwareOathMethods":
            # A beta-only navigation property of `authentication` (the v1.0 CSDL has none).
            if version != "beta":
                return None
            if n == 4 and method == "GET":
                return with_user(lambda r, u: self.hardware_oath_list(u))
            if n == 6 and seg[5] == "deactivate" and method == "POST":
                method_id = seg[4]
                return with_user(lambda r, u: self.hardware_oath_deactivate(u, method_id))
        if area == "temporaryAccessPassMethods":
            if n == 4 and method == "GET":
                return with_user(lambda r, u: self.tap_list(u, version))
            if n == 4 and method == "POST":
                return with_user(lambda r, u: self.tap_create(r, u, version))
            if n == 5 and method == "DELETE":
                method_id = seg[4]
                return with_user(lambda r, u: self.tap_delete(u, method_id))
        if area == "fido2Methods":
            # microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/
            # fido2authenticationmethod-list.md, -get.md and -delete.md: list, get and delete
            # (204). There is no POST in v1.0: a key is registered by its owner.
            if n == 4 and method == "GET":
                return with_user(lambda r, u: self.fido2_list(u, version))
            if n == 5 and method in ("GET", "DELETE"):
                method_id = seg[4]
                return with_user(lambda r, u: self.fido2_one(r, u, method_id, version))
        if area in ("microsoftAuthenticatorMethods", "softwareOathMethods"):
            if n == 4 and method == "GET":
                return with_user(lambda r, u: self.app_methods_list(u, area, version))
            if n == 5 and method in ("GET", "DELETE"):
                method_id = seg[4]
                return with_user(lambda r, u: self.app_method_one(r, u, area, method_id, version))
        return None

    # --- users ------------------------------------------------------------------------------

    def _select(self, request: Request) -> tuple[list[str] | None, Response | None]:
        raw = request.param("$select")
        if raw is None:
            return None, None
        names = [name.strip() for name in raw.split(",") if name.strip()]
        for name in names:
            if name not in USER_PROPERTY_NAMES:
                return None, graph_error(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{name}' on type 'microsoft.graph.user'.",
                )
        return names, None

    @staticmethod
    def shape_user(user: User, select: list[str] | None, *, delta: bool = False) -> dict[str, Any]:
        full = user.graph_json()
        wanted = select if select else DEFAULT_USER_PROPERTIES
        shaped = {name: full[name] for name in wanted if name in full}
        if delta:
            # microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/
            # user-delta.md: "If the property has never been set before it will not be
            # included in the response at all." A user never given a licence has no
            # assignedLicenses in delta; a property never given a value is left out.
            shaped = {
                name: value
                for name, value in shaped.items()
                if value is not None and (name != "assignedLicenses" or user.ever_licensed)
            }
        shaped["id"] = user.id
        return shaped

    def _top(
        self, request: Request, default: int, maximum: int = 999
    ) -> tuple[int, Response | None]:
        raw = request.param("$top")
        if raw is None:
            return default, None
        if not raw.isdigit() or not 1 <= int(raw) <= maximum:
            return 0, graph_error(
                400,
                "Request_UnsupportedQuery",
                f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.",
            )
        return int(raw), None

    def users_list(self, request: Request, version: str) -> Response:
        if request.param("$filter") or request.param("$search"):
            return graph_error(
                400, "Request_UnsupportedQuery", "The emulator does not filter users."
            )
        select, error = self._select(request)
        top, top_error = self._top(request, self.emulator.page_size)
        if error or top_error:
            return error or top_error  # type: ignore[return-value]
        start = 0
        if request.param("$skiptoken"):
            state = decode_token(request.param("$skiptoken") or "")
            if state is None or "i" not in state:
                return graph_error(400, "Request_BadRequest", "Invalid $skiptoken.")
            start = int(state["i"])
        page: list[dict[str, Any]] = []
        next_index: int | None = None
        for user in self.tenant.iter_users(start):
            if len(page) == top:
                next_index = user.index
                break
            page.append(self.shape_user(user, select))
        fragment = f"users({','.join(select)})" if select else "users"
        body: dict[str, Any] = {"@odata.context": self.context(version, fragment), "value": page}
        if next_index is not None:
            params = {"$top": str(top)}
            if select:
                params["$select"] = ",".join(select)
            params["$skiptoken"] = encode_token({"i": next_index})
            body["@odata.nextLink"] = self.link(version, "users", params)
        return Response(200, body)

    def user_get(self, request: Request, user: User, version: str) -> Response:
        select, error = self._select(request)
        if error:
            return error
        body = {
            "@odata.context": self.context(version, "users/$entity"),
            **self.shape_user(user, select),
        }
        return Response(200, body)

    def users_delta(self, request: Request, version: str) -> Response:
        tenant = self.tenant
        size = self.emulator.delta_page_size
        token = request.param("$deltatoken")
        skip = request.param("$skiptoken")
        if token or skip:
            state = decode_token(token or skip or "")
            if state is None:
                return graph_error(400, "Request_BadRequest", "Invalid token.")
            if state.get("e") != tenant.delta_epoch:
                return self.delta_expired(version)
            select = state.get("sel")
            if token:  # a new round: changes after the stored sequence number
                state = {
                    "m": "c",
                    "a": state["s"],
                    "u": tenant.sequence,
                    "p": 0,
                    "e": state["e"],
                    "sel": select,
                }
        else:
            select, error = self._select(request)
            if error:
                return error
            state = {"m": "f", "i": 0, "s": tenant.sequence, "e": tenant.delta_epoch, "sel": select}

        value: list[dict[str, Any]] = []
        more = False
        if state["m"] == "f":
            next_index = None
            for user in tenant.iter_users(int(state["i"])):
                if len(value) == size:
                    next_index = user.index
                    break
                value.append(self.shape_user(user, select or None, delta=True))
            more = next_index is not None
            next_state = {**state, "i": next_index}
            done_sequence = state["s"]
        else:
            indexes = tenant.changed_indexes(int(state["a"]), int(state["u"]))
            position = int(state["p"])
            for index in indexes[position : position + size]:
                user = tenant.user_at(index)
                if user.deleted:
                    value.append(
                        {"id": user.id, "@removed": {"reason": user.removed_reason or "changed"}}
                    )
                else:
                    value.append(self.shape_user(user, select or None, delta=True))
            more = position + size < len(indexes)
            next_state = {**state, "p": position + size}
            done_sequence = state["u"]
        fragment = f"users({','.join(select)})" if select else "users"
        body: dict[str, Any] = {"@odata.context": self.context(version, fragment), "value": value}
        if more:
            body["@odata.nextLink"] = self.link(
                version, "users/delta", {"$skiptoken": encode_token(next_state)}
            )
        else:
            delta_state = {"s": done_sequence, "e": state["e"], "sel": select}
            body["@odata.deltaLink"] = self.link(
                version, "users/delta", {"$deltatoken": encode_token(delta_state)}
            )
        return Response(200, body)

    def delta_expired(self, version: str) -> Response:
        """Graph no longer knows the delta or skip token, in the shape the tenant is set to.

        microsoftgraph/microsoft-graph-docs-contrib, concepts/delta-query-overview.md,
        "Synchronization reset": "Delta query can return a response code of `410 (gone)` and a
        **Location** header containing a request URL with an empty `$deltaToken` (same as the
        initial query). This is an indication that the application must restart with a full
        synchronization"; "Token duration": "In case of an expired token, the service should
        respond with a 40X-series error with error codes such as `syncStateNotFound`". The
        errors page (concepts/errors.md) adds `resyncRequired`, and real Graph has answered
        the PascalCase `SyncStateNotFound`: codes are matched without regard to case.
        """
        code = self.tenant.delta_expiry_code
        if code == "gone":
            initial = self.link(version, "users/delta", {"$deltatoken": ""})
            return Response(410, None, headers={"Location": initial})
        return graph_error(
            410,
            code,
            "Sync state is no longer valid; a full resync is required."
            if code.lower() == "resyncrequired"
            else "The delta token has expired or cannot be found.",
        )

    def revoke_sessions(self, user: User, version: str) -> Response:
        # microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/
        # user-revokesigninsessions.md: "This API doesn't revoke sign-in sessions for external
        # users, because external users sign in through their home tenant." The answer is
        # the same 200 true: nothing in it says so. (An external user's user name carries
        # #EXT#, as Entra's own dynamic-group rule `userPrincipalName -notContains "#EXT#@"`
        # relies on.)
        if "#ext#" not in user.user_principal_name.lower():
            user.sessions_revoked_at = datetime.now(UTC)
        return Response(
            200, {"@odata.context": self.context(version, "Edm.Boolean"), "value": True}
        )

    # --- roles ------------------------------------------------------------------------------

    def role_assignments(
        self, request: Request, version: str, *, eligible: bool = False
    ) -> Response:
        """Active role assignments, or PIM eligibilities (roleEligibilityScheduleInstances,
        api-reference/v1.0/api/rbacapplication-list-roleeligibilityscheduleinstances.md).

        Roles are held directly, through role-assignable groups, over administrative units
        (directoryScopeId "/administrativeUnits/{id}") and, with PIM, as eligibilities that
        only become assignments when activated; MicrosoftDocs/entra-docs,
        role-based-access-control/groups-concept.md: "you can use Microsoft Entra Privileged
        Identity Management (PIM) to make a group eligible for a role assignment".
        """
        tenant = self.tenant
        records = list(tenant.role_eligibilities if eligible else tenant.role_assignments)
        raw_filter = request.param("$filter")
        if raw_filter:
            match = re.fullmatch(
                r"\s*(roleDefinitionId|principalId)\s+eq\s+'([^']*)'\s*", raw_filter
            )
            if not match:
                return graph_error(
                    400, "Request_UnsupportedQuery", f"Unsupported filter: {raw_filter}"
                )
            name = "role_definition_id" if match.group(1) == "roleDefinitionId" else "principal_id"
            records = [r for r in records if getattr(r, name) == match.group(2)]
        expand = request.param("$expand")
        if expand not in (None, "principal"):
            return graph_error(400, "Request_UnsupportedQuery", f"Unsupported $expand: {expand}")
        value = []
        for record in records:
            item: dict[str, Any] = {
                "id": record.id,
                "principalId": record.principal_id,
                "roleDefinitionId": record.role_definition_id,
                "directoryScopeId": record.directory_scope_id,
            }
            if eligible:
                item.update(
                    {
                        "appScopeId": None,
                        "startDateTime": "2025-01-01T00:00:00Z",
                        "endDateTime": None,
                        "memberType": "Direct",
                        "roleEligibilityScheduleId": record.id,
                    }
                )
            if expand == "principal":
                if record.principal_type == "user":
                    user = tenant.find(record.principal_id)
                    if user is None:
                        continue
                    item["principal"] = {
                        "@odata.type": "#microsoft.graph.user",
                        **self.shape_user(user, None),
                    }
                elif record.principal_type == "group":
                    group = tenant.groups.get(record.principal_id)
                    if group is None:
                        continue
                    item["principal"] = {
                        "@odata.type": "#microsoft.graph.group",
                        "id": group.id,
                        "displayName": group.display_name,
                        "isAssignableToRole": group.is_assignable_to_role,
                    }
                else:
                    item["principal"] = {
                        "@odata.type": f"#microsoft.graph.{record.principal_type}",
                        "id": record.principal_id,
                        "displayName": "Provisioning app",
                    }
            value.append(item)
        fragment = "roleManagement/directory/" + (
            "roleEligibilityScheduleInstances" if eligible else "roleAssignments"
        )
        return Response(200, {"@odata.context": self.context(version, fragment), "value": value})

    def group_members(self, request: Request, group_id: str, version: str) -> Response:
        group = self.tenant.groups.get(group_id)
        if group is None:
            return not_found(group_id)
        top, error = self._top(request, self.emulator.page_size)
        if error:
            return error
        start = 0
        if request.param("$skiptoken"):
            state = decode_token(request.param("$skiptoken") or "")
            if state is None or "i" not in state:
                return graph_error(400, "Request_BadRequest", "Invalid $skiptoken.")
            start = int(state["i"])
        members = [self.tenant.find(member) for member in group.members]
        live = [user for user in members if user is not None]
        page = live[start : start + top]
        value = [{"@odata.type": "#microsoft.graph.user", "id": user.id} for user in page]
        body: dict[str, Any] = {
            "@odata.context": self.context(version, "directoryObjects"),
            "value": value,
        }
        if start + top < len(live):
            params = {"$top": str(top), "$skiptoken": encode_token({"i": start + top})}
            body["@odata.nextLink"] = self.link(version, f"groups/{group_id}/members", params)
        return Response(200, body)

    def member_of(self, user: User, version: str) -> Response:
        value = [
            {
                "@odata.type": "#microsoft.graph.group",
                "id": group.id,
                "displayName": group.display_name,
                "isAssignableToRole": group.is_assignable_to_role,
            }
            for group in self.tenant.groups_of(user.id)
        ]
        return Response(
            200, {"@odata.context": self.context(version, "directoryObjects"), "value": value}
        )

    # --- per-user MFA and sign-in preferences (beta) ------------------------------------------

    def requirements_get(self, request: Request, user: User) -> Response:
        state = user.per_user_mfa_state
        if user.stale_mfa_state is not None and time.monotonic() < user.stale_until:
            state = user.stale_mfa_state  # this replica has not heard of the write yet
        return Response(
            200,
            {
                "@odata.context": self.context(
                    "beta", f"users('{user.id}')/authentication/requirements"
                ),
                "perUserMfaState": state,
            },
        )

    def requirements_patch(self, request: Request, user: User) -> Response:
        body = request.body
        if not isinstance(body, dict) or set(body) - {"perUserMfaState"}:
            return graph_error(400, "BadRequest", "Only perUserMfaState can be updated.")
        state = body.get("perUserMfaState")
        if state not in PER_USER_MFA_STATES:
            return graph_error(
                400,
                "BadRequest",
                f"Requested value '{state}' was not found in the perUserMfaState enum.",
            )
        lag = self.emulator.read_after_write_lag
        if lag > 0:
            # Entra is eventually consistent: a write accepted by one replica reaches the
            # others later, and a read may be answered by one that has not heard of it.
            # Microsoft's identity blog, "Designing for Eventual Consistency for Microsoft
            # Entra": "A successful write to Microsoft Entra does not guarantee that an
            # immediate read will reflect that change"; microsoftgraph/microsoft-graph-docs-
            # contrib, concepts/delta-query-overview.md, "Processing delays": "some requests
            # might have replication delays for objects that were recently created, updated,
            # or deleted".
            user.stale_mfa_state = user.per_user_mfa_state
            user.stale_until = time.monotonic() + lag
        self.tenant.set_mfa_state(user, state)
        return Response(204)

    def preferences_get(self, request: Request, user: User) -> Response:
        return Response(
            200,
            {
                "@odata.context": self.context(
                    "beta", f"users('{user.id}')/authentication/signInPreferences"
                ),
                "isSystemPreferredAuthenticationMethodEnabled": user.system_preferred_enabled,
                "userPreferredMethodForSecondaryAuthentication": user.preferred_method,
            },
        )

    def preferences_patch(self, request: Request, user: User) -> Response:
        body = request.body
        allowed = {
            "userPreferredMethodForSecondaryAuthentication",
            "isSystemPreferredAuthenticationMethodEnabled",
        }
        if not isinstance(body, dict) or not body or set(body) - allowed:
            return graph_error(400, "BadRequest", f"Only {sorted(allowed)} can be updated.")
        if "userPreferredMethodForSecondaryAuthentication" in body:
            preference = body["userPreferredMethodForSecondaryAuthentication"]
            if preference not in PREFERRED_METHOD_NEEDS:
                return graph_error(
                    400,
                    "BadRequest",
                    f"'{preference}' is not a userDefaultAuthenticationMethodType.",
                )
            if not user.has_method_for(preference):
                return graph_error(
                    400, "BadRequest", f"The user has no registered method for '{preference}'."
                )
        if "isSystemPreferredAuthenticationMethodEnabled" in body:
            if not isinstance(body["isSystemPreferredAuthenticationMethodEnabled"], bool):
                return graph_error(
                    400, "BadRequest", "isSystemPreferredAuthenticationMethodEnabled is a boolean."
                )
            user.system_preferred_enabled = body["isSystemPreferredAuthenticationMethodEnabled"]
        if "userPreferredMethodForSecondaryAuthentication" in body:
            user.preferred_method = body["userPreferredMethodForSecondaryAuthentication"]
        return Response(204)

    # --- authentication methods -------------------------------------------------------------

    @staticmethod
    def phone_json(user: User, phone_type: str, *, typed: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": PHONE_METHOD_IDS[phone_type],
            "phoneNumber": user.phones[phone_type],
            "phoneType": phone_type,
            "smsSignInState": "notEnabled" if phone_type == "mobile" else "notSupported",
        }
        return (
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", **item} if typed else item
        )

    @staticmethod
    def app_json(user: User, area: str, index: int, *, typed: bool) -> dict[str, Any]:
        if area == "microsoftAuthenticatorMethods":
            app = user.authenticators[index]
            item: dict[str, Any] = {
                "id": app.id,
                "displayName": app.display_name,
                "deviceTag": app.device_tag,
                "phoneAppVersion": app.phone_app_version,
                "createdDateTime": app.created,
            }
            odata_type = "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
        else:
            token = user.software_oath[index]
            item = {"id": token.id, "secretKey": None, "createdDateTime": token.created}
            odata_type = "#microsoft.graph.softwareOathAuthenticationMethod"
        return {"@odata.type": odata_type, **item} if typed else item

    def methods_list(self, user: User, version: str) -> Response:
        value: list[dict[str, Any]] = [
            {
                "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                "id": PASSWORD_METHOD_ID,
                "password": None,
                "createdDateTime": user.created,
            }
        ]
        value += [
            self.phone_json(user, t, typed=True) for t in PHONE_TYPES_IN_ORDER if t in user.phones
        ]
        value += [
            self.app_json(user, "microsoftAuthenticatorMethods", i, typed=True)
            for i in range(len(user.authenticators))
        ]
        value += [
            self.app_json(user, "softwareOathMethods", i, typed=True)
            for i in range(len(user.software_oath))
        ]
        if version == "beta":
            value += [self.hardware_oath_json(token, typed=True) for token in user.hardware_oath]
        value += [self.fido2_json(key, typed=True) for key in user.fido2]
        context = self.context(version, f"users('{user.id}')/authentication/methods")
        return Response(200, {"@odata.context": context, "value": value})

    def phone_list(self, user: User, version: str) -> Response:
        value = [
            self.phone_json(user, t, typed=False) for t in PHONE_TYPES_IN_ORDER if t in user.phones
        ]
        context = self.context(version, f"users('{user.id}')/authentication/phoneMethods")
        return Response(200, {"@odata.context": context, "value": value})

    @staticmethod
    def _check_number(number: Any) -> Response | None:
        if not isinstance(number, str) or not PHONE_NUMBER.match(number):
            return graph_error(
                400,
                "invalidPhoneNumber",
                "Phone number must be in the format '+<country code> <number>x<extension>', "
                "for example '+1 5555551234x123'.",
            )
        return None

    def phone_add(self, request: Request, user: User, version: str) -> Response:
        body = request.body
        if not isinstance(body, dict) or set(body) - {"phoneNumber", "phoneType"}:
            return graph_error(400, "BadRequest", "Expected phoneNumber and phoneType.")
        phone_type = body.get("phoneType")
        if phone_type not in PHONE_METHOD_IDS:
            return graph_error(400, "BadRequest", f"Invalid phoneType '{phone_type}'.")
        error = self._check_number(body.get("phoneNumber"))
        if error:
            return error
        if phone_type in user.phones:
            return graph_error(
                400, "phoneTypeAlreadyExists", f"The user already has a {phone_type} phone."
            )
        if phone_type == "alternateMobile" and "mobile" not in user.phones:
            return graph_error(
                400,
                "mobilePhoneRequired",
                "A mobile phone must be registered before an alternateMobile.",
            )
        user.phones[phone_type] = body["phoneNumber"]
        context = self.context(version, f"users('{user.id}')/authentication/phoneMethods/$entity")
        return Response(
            201, {"@odata.context": context, **self.phone_json(user, phone_type, typed=False)}
        )

    def phone_one(self, request: Request, user: User, method_id: str, version: str) -> Response:
        phone_type = next((t for t, i in PHONE_METHOD_IDS.items() if i == method_id), None)
        if phone_type is None or phone_type not in user.phones:
            return not_found(method_id)
        if request.method == "GET":
            context = self.context(
                version, f"users('{user.id}')/authentication/phoneMethods/$entity"
            )
            return Response(
                200, {"@odata.context": context, **self.phone_json(user, phone_type, typed=False)}
            )
        if request.method == "DELETE":
            # microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/
            # phoneauthenticationmethod-delete.md: "A user can't have an alternateMobile number
            # without a mobile number. If you want to remove a mobile number from a user that
            # also has an alternateMobile number, first update the mobile number to the new
            # number, then delete the alternateMobile number."
            if phone_type == "mobile" and "alternateMobile" in user.phones:
                return graph_error(
                    400,
                    "badRequest",
                    "A user can't have an alternateMobile number without a mobile number: "
                    "delete the alternateMobile number first.",
                )
            refused = self._default_method_deletion(user, lambda u: u.phones.pop(phone_type))
            if refused:
                return refused
            del user.phones[phone_type]
            if user.preferred_method and not user.has_method_for(user.preferred_method):
                user.preferred_method = None
            return Response(204)
        body = request.body
        if not isinstance(body, dict) or set(body) - {"phoneNumber", "phoneType"}:
            return graph_error(400, "BadRequest", "Only phoneNumber can be updated.")
        if body.get("phoneType", phone_type) != phone_type:
            return graph_error(
                400, "BadRequest", "phoneType cannot be changed; add the new type instead."
            )
        error = self._check_number(body.get("phoneNumber"))
        if error:
            return error
        user.phones[phone_type] = body["phoneNumber"]
        return Response(204)

    @staticmethod
    def fido2_json(key: Fido2Key, *, typed: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": key.id,
            "displayName": key.display_name,
            "createdDateTime": key.created,
            "aaGuid": key.aa_guid,
            "model": key.model,
            "attestationCertificates": [],
            "attestationLevel": "attested",
        }
        if typed:
            return {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", **item}
        return item

    def fido2_list(self, user: User, version: str) -> Response:
        context = self.context(version, f"users('{user.id}')/authentication/fido2Methods")
        value = [self.fido2_json(key, typed=False) for key in user.fido2]
        return Response(200, {"@odata.context": context, "value": value})

    def fido2_one(self, request: Request, user: User, method_id: str, version: str) -> Response:
        index = next((i for i, key in enumerate(user.fido2) if key.id == method_id), None)
        if index is None:
            return not_found(method_id)
        if request.method == "GET":
            context = self.context(
                version, f"users('{user.id}')/authentication/fido2Methods/$entity"
            )
            return Response(
                200, {"@odata.context": context, **self.fido2_json(user.fido2[index], typed=False)}
            )
        del user.fido2[index]
        return Response(204)

    def app_methods_list(self, user: User, area: str, version: str) -> Response:
        count = len(
            user.authenticators if area == "microsoftAuthenticatorMethods" else user.software_oath
        )
        value = [self.app_json(user, area, i, typed=False) for i in range(count)]
        context = self.context(version, f"users('{user.id}')/authentication/{area}")
        return Response(200, {"@odata.context": context, "value": value})

    def app_method_one(
        self, request: Request, user: User, area: str, method_id: str, version: str
    ) -> Response:
        items: list[Any] = (
            user.authenticators if area == "microsoftAuthenticatorMethods" else user.software_oath
        )
        index = next((i for i, item in enumerate(items) if item.id == method_id), None)
        if index is None:
            return not_found(method_id)
        if request.method == "GET":
            context = self.context(version, f"users('{user.id}')/authentication/{area}/$entity")
            return Response(
                200, {"@odata.context": context, **self.app_json(user, area, index, typed=False)}
            )
        attribute = "authenticators" if area == "microsoftAuthenticatorMethods" else "software_oath"
        refused = self._default_method_deletion(user, lambda u: getattr(u, attribute).pop(index))
        if refused:
            return refused
        del items[index]
        if user.preferred_method and not user.has_method_for(user.preferred_method):
            user.preferred_method = None
        return Response(204)

    @staticmethod
    def _default_method_deletion(user: User, remove: Callable[[User], object]) -> Response | None:
        """Refuse to delete the method that serves the user's default while others remain.

        phoneauthenticationmethod-delete.md: "If the phone number is the user's default Azure
        multi-factor authentication (MFA) authentication method, it can't be deleted. Have the
        user change their default authentication method, and then delete the number."
        microsoftgraph/entra-powershell, Reset-EntraBetaStrongAuthenticationMethodByUpn.ps1:
        "default method can only be deleted when it is the only (last) auth method for a
        user". Graph's answer, as reported in microsoftgraph/microsoft-graph-docs#14470.
        """
        if not user.preferred_method or user.mfa_method_count <= 1:
            return None
        after = copy.deepcopy(user)
        remove(after)
        if after.has_method_for(user.preferred_method) or not after.has_mfa_methods:
            return None
        return graph_error(
            400,
            "badRequest",
            "Cannot delete default method with other methods configured. Please change "
            "default method before deletion.",
        )

    # --- hardware OATH tokens (beta) ---------------------------------------------------------

    @staticmethod
    def hardware_oath_json(token: HardwareOath, *, typed: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"id": token.id, "createdDateTime": token.created}
        return (
            {"@odata.type": "#microsoft.graph.hardwareOathAuthenticationMethod", **item}
            if typed
            else item
        )

    def hardware_oath_list(self, user: User) -> Response:
        value = [self.hardware_oath_json(token, typed=False) for token in user.hardware_oath]
        context = self.context("beta", f"users('{user.id}')/authentication/hardwareOathMethods")
        return Response(200, {"@odata.context": context, "value": value})

    def hardware_oath_deactivate(self, user: User, method_id: str) -> Response:
        """hardwareoathauthenticationmethod-deactivate.md (beta): "Deactive a hardware OATH
        token. It remains assigned to a user." 204 No Content."""
        token = next((t for t in user.hardware_oath if t.id == method_id), None)
        if token is None:
            return not_found(method_id)
        token.status = "assigned"
        if user.preferred_method and not user.has_method_for(user.preferred_method):
            user.preferred_method = None
        return Response(204)

    # --- Temporary Access Pass ----------------------------------------------------------------
    # microsoftgraph/microsoft-graph-docs-contrib, api-reference/v1.0/api/
    # authentication-post-temporaryaccesspassmethods.md and resources/
    # temporaryaccesspassauthenticationmethod.md: lifetimeInMinutes "must be between 10 and
    # 43200 inclusive (equivalent to 30 days)"; "A user can only have one Temporary Access
    # Pass that's usable within its specified lifetime": a new one deletes the previous; the
    # pass is "only returned on creation ... hidden in subsequent read operations and
    # returned as null"; isUsableOnce limits it to one use.

    TAP_FIELDS = frozenset({"startDateTime", "lifetimeInMinutes", "isUsableOnce"})

    def tap_json(self, tap: TemporaryAccessPass, *, shown: bool) -> dict[str, Any]:
        now = datetime.now(UTC)
        end = tap.start.timestamp() + tap.lifetime_minutes * 60
        usable = tap.start <= now and now.timestamp() < end
        reason = "EnabledByPolicy" if usable else ("NotYetValid" if now < tap.start else "Expired")
        return {
            "id": tap.id,
            "isUsable": usable,
            "methodUsabilityReason": reason,
            "temporaryAccessPass": tap.value if shown else None,
            "createdDateTime": iso(tap.created),
            "startDateTime": iso(tap.start),
            "lifetimeInMinutes": tap.lifetime_minutes,
            "isUsableOnce": tap.usable_once,
        }

    def tap_list(self, user: User, version: str) -> Response:
        taps = [user.temporary_access_pass] if user.temporary_access_pass else []
        value = [self.tap_json(tap, shown=False) for tap in taps]
        context = self.context(
            version, f"users('{user.id}')/authentication/temporaryAccessPassMethods"
        )
        return Response(200, {"@odata.context": context, "value": value})

    def tap_create(self, request: Request, user: User, version: str) -> Response:
        body = request.body
        if not isinstance(body, dict) or set(body) - self.TAP_FIELDS:
            return graph_error(
                400, "badRequest", "Expected startDateTime, lifetimeInMinutes and isUsableOnce."
            )
        lifetime = body.get("lifetimeInMinutes", 60)
        if (
            not isinstance(lifetime, int)
            or isinstance(lifetime, bool)
            or not 10 <= lifetime <= 43_200
        ):
            return graph_error(
                400,
                "badRequest",
                "lifetimeInMinutes must be between 10 and 43200 (30 days).",
            )
        usable_once = body.get("isUsableOnce", False)
        if not isinstance(usable_once, bool):
            return graph_error(400, "badRequest", "isUsableOnce must be a Boolean.")
        now = datetime.now(UTC)
        start = now
        if body.get("startDateTime") is not None:
            try:
                start = datetime.fromisoformat(str(body["startDateTime"]).replace("Z", "+00:00"))
            except ValueError:
                return graph_error(400, "badRequest", "startDateTime is not a DateTimeOffset.")
            if start.tzinfo is None:
                return graph_error(400, "badRequest", "startDateTime needs a time zone offset.")
        tap = TemporaryAccessPass(
            id=str(uuid.uuid4()),
            value=base64.b32encode(uuid.uuid4().bytes).decode()[:8],
            start=start,
            lifetime_minutes=lifetime,
            usable_once=usable_once,
            created=now,
        )
        user.temporary_access_pass = tap  # the previous one, if any, is deleted
        context = self.context(
            version, f"users('{user.id}')/authentication/temporaryAccessPassMethods/$entity"
        )
        return Response(201, {"@odata.context": context, **self.tap_json(tap, shown=True)})

    def tap_delete(self, user: User, method_id: str) -> Response:
        if user.temporary_access_pass is None or user.temporary_access_pass.id != method_id:
            return not_found(method_id)
        user.temporary_access_pass = None
        return Response(204)

    # --- registration report ------------------------------------------------------------------

    def registration_json(self, user: User, version: str) -> dict[str, Any]:
        registered = user.methods_registered()
        preferred = user.preferred_method if user.preferred_method in DEFAULT_MFA_METHOD else None
        item: dict[str, Any] = {
            "id": user.id,
            "userPrincipalName": user.user_principal_name,
            "userDisplayName": user.display_name,
            "userType": "guest" if user.user_type == "Guest" else "member",
            "isAdmin": self.tenant.is_admin(user),
            "isSsprRegistered": False,
            "isSsprEnabled": False,
            "isSsprCapable": False,
            "isMfaRegistered": bool(registered),
            "isMfaCapable": bool(registered) and user.account_enabled,
            "isPasswordlessCapable": False,
            "isSystemPreferredAuthenticationMethodEnabled": user.system_preferred_enabled,
            "systemPreferredAuthenticationMethods": [],
            "methodsRegistered": registered,
            # The docs' guest example answers "" rather than "none": clients must cope.
            "userPreferredMethodForSecondaryAuthentication": (
                preferred or ("" if user.user_type == "Guest" else "none")
            ),
            # MicrosoftDocs/entra-docs, identity/authentication/howto-authentication-methods-
            # activity.md: "Last Updated Time (The date and time when the report most recently
            # updated. This value is not related the user's authentication method
            # registration.)" Microsoft's examples show one time on every row.
            "lastUpdatedDateTime": iso(self.tenant.report_updated_at),
        }
        if version == "beta":
            item["defaultMfaMethod"] = DEFAULT_MFA_METHOD[preferred] if preferred else "none"
        return item

    def registration_details(self, request: Request, version: str) -> Response:
        # howto-authentication-methods-activity.md: "A Microsoft Entra ID P1 or P2 license is
        # required to access Usage and insights"; a tenant without one is answered as
        # reported in microsoftgraph/microsoft-graph-docs-contrib#8777.
        if not self.tenant.premium:
            return graph_error(
                403,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            )
        retry_after = self.emulator.report_throttled()
        if retry_after is not None:
            # concepts/throttling-limits.md, "Identity and access reports service limits":
            # any request, "5 requests per 10 seconds" per app per tenant.
            return graph_error(
                429,
                "TooManyRequests",
                "Too many requests.",
                **{"Retry-After": str(max(1, math.ceil(retry_after)))},
            )
        if request.param("$filter"):
            return graph_error(
                400, "Request_UnsupportedQuery", "The emulator does not filter this report."
            )
        top, error = self._top(request, self.emulator.report_page_size, maximum=1000)
        if error:
            return error
        start = 0
        if request.param("$skiptoken"):
            state = decode_token(request.param("$skiptoken") or "")
            if state is None or "i" not in state:
                return graph_error(400, "Request_BadRequest", "Invalid $skiptoken.")
            start = int(state["i"])
        value: list[dict[str, Any]] = []
        next_index = None
        for user in self.tenant.iter_users(start):
            if not user.account_enabled:
                # Disabled users are missing from the report (MicrosoftDocs/entra-docs#878,
                # "Disabled users are missing from the 'User registration details' report").
                continue
            if len(value) == top:
                next_index = user.index
                break
            value.append(self.registration_json(user, version))
        path = "reports/authenticationMethods/userRegistrationDetails"
        body: dict[str, Any] = {"@odata.context": self.context(version, path), "value": value}
        if next_index is not None:
            params = {"$top": str(top)} if request.param("$top") else {}
            params["$skiptoken"] = encode_token({"i": next_index})
            body["@odata.nextLink"] = self.link(version, path, params)
        return Response(200, body)

    # --- JSON batch -------------------------------------------------------------------------

    def batch(self, request: Request, version: str) -> Response:
        body = request.body
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return graph_error(400, "BadRequest", "Invalid batch payload format.")
        if len(items) > MAX_BATCH_REQUESTS:
            return graph_error(
                400, "BadRequest", f"Number of requests exceeds the limit of {MAX_BATCH_REQUESTS}."
            )
        ids: set[str] = set()
        for item in items:
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("id", "method", "url")
            ):
                return graph_error(
                    400, "BadRequest", "Each request needs string id, method and url."
                )
            if item["id"].lower() in ids:
                return graph_error(400, "BadRequest", f"Request id '{item['id']}' is not unique.")
            ids.add(item["id"].lower())
            if "body" in item and not _header_present(item.get("headers"), "content-type"):
                return graph_error(
                    400, "BadRequest", "A request with a body needs a Content-Type header."
                )
        responses: list[dict[str, Any]] = []
        statuses: dict[str, int] = {}
        envelope_status = 200
        for item in items:
            depends = item.get("dependsOn") or []
            if any(not 200 <= statuses.get(d.lower(), 424) < 300 for d in depends):
                answer = graph_error(
                    424, "FailedDependency", "A request this one depends on failed."
                )
            else:
                answer, item_envelope = self.emulator.dispatch_batch_item(
                    version, item, request.headers
                )
                if item_envelope is not None:
                    envelope_status = item_envelope
            statuses[item["id"].lower()] = answer.status
            entry: dict[str, Any] = {"id": item["id"], "status": answer.status}
            headers = (
                {"Content-Type": answer.content_type, **answer.headers}
                if answer.body is not None
                else dict(answer.headers)
            )
            if headers:
                entry["headers"] = headers
            if answer.body is not None:
                entry["body"] = answer.body
            responses.append(entry)
        # Graph answers batch items in any order; so does the emulator, to keep clients honest.
        self._random.shuffle(responses)
        return Response(envelope_status, {"responses": responses})


def _header_present(headers: Any, name: str) -> bool:
    return isinstance(headers, dict) and any(str(k).lower() == name for k in headers)


def inner_request(version: str, item: dict[str, Any]) -> Request:
    parts = urlsplit(item["url"] if item["url"].startswith("/") else "/" + item["url"])
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    return Request(
        method=item["method"].upper(),
        path=f"/{version}{unquote(parts.path)}",
        query=parse_qs(parts.query, keep_blank_values=True),
        headers=headers,
        body=item.get("body"),
    )
