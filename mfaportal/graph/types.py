"""Typed results built from Graph's JSON.

Directory data is untrusted input: the parsers accept missing or null properties and unknown
enum values (Graph adds them behind ``unknownFutureValue``) rather than failing a whole sync.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import GraphError

JsonObject = Mapping[str, Any]

# Properties the portal caches; without $select Graph leaves out accountEnabled and licences.
USER_SELECT = (
    "id",
    "userPrincipalName",
    "displayName",
    "mail",
    "accountEnabled",
    "assignedLicenses",
    "userType",
)

# Fixed ids Graph gives phone methods, one per phone type.
PHONE_METHOD_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}


class PerUserMfaState(enum.StrEnum):
    DISABLED = "disabled"
    ENABLED = "enabled"
    ENFORCED = "enforced"
    UNKNOWN_FUTURE_VALUE = "unknownFutureValue"

    @classmethod
    def _missing_(cls, value: object) -> PerUserMfaState:
        if isinstance(value, str):
            for member in cls:
                if member.value.lower() == value.lower():
                    return member
        return cls.UNKNOWN_FUTURE_VALUE


class PhoneType(enum.StrEnum):
    MOBILE = "mobile"
    ALTERNATE_MOBILE = "alternateMobile"
    OFFICE = "office"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _bool_or_none(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


@dataclass(frozen=True)
class GraphUser:
    id: str
    user_principal_name: str | None = None
    display_name: str | None = None
    mail: str | None = None
    account_enabled: bool | None = None
    # None when assignedLicenses was not in the answer (not selected, or a minimal delta).
    is_licensed: bool | None = None
    user_type: str | None = None
    # True for a delta entry carrying "@removed": the user was deleted or soft-deleted.
    removed: bool = False
    removed_reason: str | None = None

    @classmethod
    def from_graph(cls, data: JsonObject) -> GraphUser:
        licenses = data.get("assignedLicenses")
        removed = data.get("@removed")
        return cls(
            id=str(data["id"]),
            user_principal_name=_str_or_none(data.get("userPrincipalName")),
            display_name=_str_or_none(data.get("displayName")),
            mail=_str_or_none(data.get("mail")),
            account_enabled=_bool_or_none(data.get("accountEnabled")),
            is_licensed=bool(licenses) if isinstance(licenses, list) else None,
            user_type=_str_or_none(data.get("userType")),
            removed=removed is not None,
            removed_reason=_str_or_none(removed.get("reason"))
            if isinstance(removed, dict)
            else None,
        )


@dataclass(frozen=True)
class RoleAssignment:
    id: str
    principal_id: str
    role_definition_id: str
    directory_scope_id: str | None = None
    # The expanded principal ($expand=principal) when it is a user; None for groups/apps.
    principal: GraphUser | None = None
    principal_type: str | None = None

    @classmethod
    def from_graph(cls, data: JsonObject) -> RoleAssignment:
        principal_data = data.get("principal")
        principal = None
        principal_type = None
        if isinstance(principal_data, dict):
            principal_type = _str_or_none(principal_data.get("@odata.type"))
            if principal_type == "#microsoft.graph.user" and "id" in principal_data:
                principal = GraphUser.from_graph(principal_data)
        return cls(
            id=str(data.get("id", "")),
            principal_id=str(data.get("principalId", "")),
            role_definition_id=str(data.get("roleDefinitionId", "")),
            directory_scope_id=_str_or_none(data.get("directoryScopeId")),
            principal=principal,
            principal_type=principal_type,
        )


@dataclass(frozen=True)
class MfaRequirements:
    per_user_mfa_state: PerUserMfaState

    @classmethod
    def from_graph(cls, data: JsonObject) -> MfaRequirements:
        return cls(per_user_mfa_state=PerUserMfaState(data.get("perUserMfaState") or "disabled"))


@dataclass(frozen=True)
class SignInPreferences:
    is_system_preferred_authentication_method_enabled: bool | None
    # push, oath, voiceMobile, voiceAlternateMobile, voiceOffice, sms; None when unset.
    user_preferred_method_for_secondary_authentication: str | None

    @classmethod
    def from_graph(cls, data: JsonObject) -> SignInPreferences:
        return cls(
            is_system_preferred_authentication_method_enabled=_bool_or_none(
                data.get("isSystemPreferredAuthenticationMethodEnabled")
            ),
            # Graph answers "" or "none" for users without a preference (docs' guest example).
            user_preferred_method_for_secondary_authentication=_preference(
                data.get("userPreferredMethodForSecondaryAuthentication")
            ),
        )


def _preference(value: Any) -> str | None:
    if not isinstance(value, str) or value in ("", "none"):
        return None
    return value


@dataclass(frozen=True)
class RegistrationDetails:
    id: str
    user_principal_name: str | None
    user_display_name: str | None
    is_mfa_registered: bool
    is_mfa_capable: bool | None
    is_admin: bool | None
    methods_registered: tuple[str, ...]
    # Beta's defaultMfaMethod, else v1.0's userPreferredMethodForSecondaryAuthentication;
    # None when the user has none ("", "none" or absent).
    default_mfa_method: str | None
    user_preferred_method_for_secondary_authentication: str | None
    is_system_preferred_authentication_method_enabled: bool | None = None
    last_updated: str | None = None

    @classmethod
    def from_graph(cls, data: JsonObject) -> RegistrationDetails:
        preferred = _preference(data.get("userPreferredMethodForSecondaryAuthentication"))
        default = _preference(data.get("defaultMfaMethod"))
        return cls(
            id=str(data["id"]),
            user_principal_name=_str_or_none(data.get("userPrincipalName")),
            user_display_name=_str_or_none(data.get("userDisplayName")),
            is_mfa_registered=bool(data.get("isMfaRegistered")),
            is_mfa_capable=_bool_or_none(data.get("isMfaCapable")),
            is_admin=_bool_or_none(data.get("isAdmin")),
            methods_registered=_str_tuple(data.get("methodsRegistered")),
            default_mfa_method=default or preferred,
            user_preferred_method_for_secondary_authentication=preferred,
            is_system_preferred_authentication_method_enabled=_bool_or_none(
                data.get("isSystemPreferredAuthenticationMethodEnabled")
            ),
            last_updated=_str_or_none(data.get("lastUpdatedDateTime")),
        )


@dataclass(frozen=True)
class AuthMethod:
    """One entry of /users/{id}/authentication/methods (any method type)."""

    id: str
    odata_type: str
    phone_number: str | None = None
    phone_type: str | None = None
    sms_sign_in_state: str | None = None
    display_name: str | None = None
    device_tag: str | None = None
    phone_app_version: str | None = None
    email_address: str | None = None
    created: str | None = None

    @property
    def kind(self) -> str:
        """The short type, e.g. ``phone``, ``microsoftAuthenticator``, ``softwareOath``."""
        name = self.odata_type.rsplit(".", 1)[-1]
        return name.removesuffix("AuthenticationMethod")

    @classmethod
    def from_graph(cls, data: JsonObject, *, default_type: str = "") -> AuthMethod:
        return cls(
            id=str(data["id"]),
            # Type-specific collections (phoneMethods...) may omit @odata.type on items.
            odata_type=_str_or_none(data.get("@odata.type")) or default_type,
            phone_number=_str_or_none(data.get("phoneNumber")),
            phone_type=_str_or_none(data.get("phoneType")),
            sms_sign_in_state=_str_or_none(data.get("smsSignInState")),
            display_name=_str_or_none(data.get("displayName")),
            device_tag=_str_or_none(data.get("deviceTag")),
            phone_app_version=_str_or_none(data.get("phoneAppVersion")),
            email_address=_str_or_none(data.get("emailAddress")),
            created=_str_or_none(data.get("createdDateTime")),
        )


PHONE_METHOD_TYPE = "#microsoft.graph.phoneAuthenticationMethod"
AUTHENTICATOR_METHOD_TYPE = "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
SOFTWARE_OATH_METHOD_TYPE = "#microsoft.graph.softwareOathAuthenticationMethod"
FIDO2_METHOD_TYPE = "#microsoft.graph.fido2AuthenticationMethod"


TEMPORARY_ACCESS_PASS_METHOD_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"


@dataclass(frozen=True)
class TemporaryAccessPassMethod:
    """A user's temporaryAccessPassAuthenticationMethod. ``temporary_access_pass`` is only in
    the answer to its creation (Graph hides it on every later read)."""

    id: str
    temporary_access_pass: str | None
    start: str | None
    lifetime_minutes: int | None
    is_usable_once: bool | None
    is_usable: bool | None = None
    usability_reason: str | None = None

    @classmethod
    def from_graph(cls, data: JsonObject) -> TemporaryAccessPassMethod:
        lifetime = data.get("lifetimeInMinutes")
        return cls(
            id=str(data["id"]),
            temporary_access_pass=_str_or_none(data.get("temporaryAccessPass")),
            start=_str_or_none(data.get("startDateTime")),
            lifetime_minutes=lifetime if isinstance(lifetime, int) else None,
            is_usable_once=_bool_or_none(data.get("isUsableOnce")),
            is_usable=_bool_or_none(data.get("isUsable")),
            usability_reason=_str_or_none(data.get("methodUsabilityReason")),
        )


@dataclass(frozen=True)
class DeltaPage:
    """One page of /users/delta. The last page carries ``delta_link``: store it for next time."""

    users: list[GraphUser]
    next_link: str | None
    delta_link: str | None

    @property
    def is_last(self) -> bool:
        return self.delta_link is not None


@dataclass
class BatchRequest:
    """One request inside a JSON $batch. ``url`` is relative to the version (``/users/...``)."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Filled in by the client when empty; must be unique within a batch.
    id: str = ""

    def to_graph(self) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method.upper(), "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            item["body"] = self.body
            # Graph rejects an inner body without an explicit Content-Type.
            headers.setdefault("Content-Type", "application/json")
        if headers:
            item["headers"] = headers
        return item


@dataclass(frozen=True)
class BatchResult:
    """The answer to one BatchRequest, in the order the requests were given."""

    id: str
    status: int
    headers: dict[str, str]
    body: Any
    # Typed error for a failed item, None when 2xx.
    error: GraphError | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def raise_for_error(self) -> None:
        if self.error is not None:
            raise self.error


T = TypeVar("T")


@dataclass(frozen=True)
class PerUserResult(Generic[T]):
    """Outcome of one user's part of a batched helper: a value or a typed error."""

    user_id: str
    value: T | None = None
    error: GraphError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
