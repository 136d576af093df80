"""The emulator's in-memory tenant: users, roles, per-user MFA, methods, and a change log.

Users are generated from their index on first use, so a 100k-user tenant costs nothing until
pages are read; ids and user principal names encode the index for O(1) look-ups.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
AUTHENTICATION_ADMINISTRATOR = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"

E5_SKU_ID = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"
PHONE_METHOD_IDS = {
    "mobile": "3179e48a-750b-4051-897c-87b9720928f7",
    "alternateMobile": "b6332ec1-7057-4abe-9331-3d72feddfe41",
    "office": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
}
PHONE_TYPES_IN_ORDER = ("mobile", "alternateMobile", "office")
PHONE_NUMBER = re.compile(r"^\+\d{1,3} \d{4,15}(x\d{1,7})?$")

PER_USER_MFA_STATES = ("disabled", "enabled", "enforced")
# userDefaultAuthenticationMethodType (beta signInPreferences) → what must be registered.
PREFERRED_METHOD_NEEDS = {
    "push": "microsoftAuthenticator",
    "oath": "oath",
    "voiceMobile": "mobile",
    "sms": "mobile",
    "voiceAlternateMobile": "alternateMobile",
    "voiceOffice": "office",
}
# The same preference as beta's userRegistrationDetails.defaultMfaMethod (defaultMfaMethodType).
DEFAULT_MFA_METHOD = {
    "push": "microsoftAuthenticatorPush",
    "oath": "softwareOneTimePasscode",
    "voiceMobile": "mobilePhone",
    "sms": "mobilePhone",
    "voiceAlternateMobile": "alternateMobilePhone",
    "voiceOffice": "officePhone",
}

FIRST_NAMES = (
    "Adele", "Alex", "Allan", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni",
    "Lee", "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Zoë",
    "José", "Łukasz", "Renée", "Søren", "Ngọc", "Çağla", "Ana-María", "Björn",
)  # fmt: skip
LAST_NAMES = (
    "Vance", "Wilber", "Deyoung", "Salazar", "Archie", "Cline", "Langer", "Lauer", "Sherman",
    "Gu", "Holloway", "Robbins", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta", "Müller",
    "O'Brien", "Ångström", "Nguyễn", "Dvořák", "Åberg", "Smith", "Johnson", "García",
)  # fmt: skip
# Directory data is untrusted input: some names carry markup and quotes on purpose.
HOSTILE_DISPLAY_NAMES = (
    'Robert "Bobby" <b>Tables</b> & Sons',
    "<script>alert('x')</script> Eve",
    "Ünïcödé & <i>Friends</i> 日本語",
)

_FIXED_USERS = (
    ("admin", "MFA Admin"),
    ("helpdesk", "Helpdesk Agent"),
    ("adele", "Adele Vance"),
)


@functools.lru_cache(maxsize=4096)
def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "", folded.lower()) or "user"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class AuthenticatorApp:
    id: str
    display_name: str
    device_tag: str = "SoftwareTokenActivated"
    phone_app_version: str = "6.2401.0119"
    created: str = "2024-01-15T09:30:00Z"


@dataclass(slots=True)
class Fido2Key:
    """A passkey or FIDO2 security key (fido2AuthenticationMethod)."""

    id: str
    display_name: str
    model: str = "YubiKey 5 Series with NFC"
    aa_guid: str = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
    created: str = "2024-03-01T10:00:00Z"


@dataclass(slots=True)
class SoftwareOath:
    id: str
    created: str = "2024-02-01T10:00:00Z"


@dataclass(slots=True)
class TemporaryAccessPass:
    """A user's Temporary Access Pass (``temporaryAccessPassMethods``); ``value`` is shown
    only in the answer to its creation."""

    id: str
    value: str
    start: datetime
    lifetime_minutes: int
    usable_once: bool
    created: datetime


@dataclass(slots=True)
class HardwareOath:
    """A hardware OATH token assigned to a user (beta ``hardwareOathMethods``)."""

    id: str
    serial_number: str
    # hardwareOathTokenStatus: activated, assigned (deactivated, still the user's), ...
    status: str = "activated"
    created: str = "2024-03-01T10:00:00Z"


@dataclass(slots=True)
class User:
    index: int
    id: str
    user_principal_name: str
    display_name: str
    given_name: str | None
    surname: str | None
    mail: str | None
    account_enabled: bool
    licensed: bool
    user_type: str = "Member"
    job_title: str | None = None
    # Whether assignedLicenses was ever set (delta leaves out properties never set).
    ever_licensed: bool = False
    per_user_mfa_state: str = "disabled"
    # Read-after-write lag: what a read answers until ``stale_until`` (time.monotonic()).
    stale_mfa_state: str | None = None
    stale_until: float = 0.0
    # phoneType → number, e.g. {"mobile": "+1 5555551234"}
    phones: dict[str, str] = field(default_factory=dict)
    authenticators: list[AuthenticatorApp] = field(default_factory=list)
    software_oath: list[SoftwareOath] = field(default_factory=list)
    hardware_oath: list[HardwareOath] = field(default_factory=list)
    temporary_access_pass: TemporaryAccessPass | None = None
    fido2: list[Fido2Key] = field(default_factory=list)
    preferred_method: str | None = None
    system_preferred_enabled: bool = False
    sessions_revoked_at: datetime | None = None
    deleted: bool = False
    # "changed" (soft delete, restorable) or "deleted" (hard), as delta reports it.
    removed_reason: str | None = None
    created: str = "2023-06-01T08:00:00Z"

    @property
    def active_hardware_oath(self) -> list[HardwareOath]:
        return [token for token in self.hardware_oath if token.status == "activated"]

    @property
    def mfa_method_count(self) -> int:
        return (
            len(self.phones)
            + len(self.authenticators)
            + len(self.software_oath)
            + len(self.active_hardware_oath)
            + len(self.fido2)
        )

    @property
    def has_mfa_methods(self) -> bool:
        return self.mfa_method_count > 0

    def graph_json(self) -> dict[str, Any]:
        """Every property the emulator knows, as Graph names them (before $select)."""
        return {
            "id": self.id,
            "businessPhones": [],
            "displayName": self.display_name,
            "givenName": self.given_name,
            "jobTitle": self.job_title,
            "mail": self.mail,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": "en-US",
            "surname": self.surname,
            "userPrincipalName": self.user_principal_name,
            "accountEnabled": self.account_enabled,
            "assignedLicenses": (
                [{"disabledPlans": [], "skuId": E5_SKU_ID}] if self.licensed else []
            ),
            "userType": self.user_type,
            "createdDateTime": self.created,
        }

    def methods_registered(self) -> list[str]:
        names = {
            "mobile": "mobilePhone",
            "alternateMobile": "alternateMobilePhone",
            "office": "officePhone",
        }
        registered = [names[phone_type] for phone_type in self.phones]
        if self.authenticators:
            registered.append("microsoftAuthenticatorPush")
        if self.software_oath:
            registered.append("softwareOneTimePasscode")
        return registered

    def has_method_for(self, preference: str) -> bool:
        need = PREFERRED_METHOD_NEEDS.get(preference)
        if need == "microsoftAuthenticator":
            return bool(self.authenticators)
        if need == "oath":
            return bool(self.software_oath or self.authenticators or self.active_hardware_oath)
        return need in self.phones


# Every user property the emulator serves, i.e. what $select may name.
USER_PROPERTY_NAMES = frozenset(User(0, "", "", "", None, None, None, True, True).graph_json())


@dataclass(frozen=True)
class RoleAssignmentRecord:
    """An active role assignment, or (in ``Tenant.role_eligibilities``) a PIM eligibility."""

    id: str
    role_definition_id: str
    principal_id: str
    # "user", "group" (a role-assignable group) or "servicePrincipal": apps hold roles too.
    principal_type: str = "user"
    # "/" tenant-wide, or "/administrativeUnits/{id}" for a role over an administrative unit.
    directory_scope_id: str = "/"


@dataclass
class Group:
    id: str
    display_name: str
    is_assignable_to_role: bool = True
    # User ids. MicrosoftDocs/entra-docs, role-based-access-control/groups-concept.md: "Group
    # nesting isn't supported. A group can't be added as a member of a role-assignable group."
    members: list[str] = field(default_factory=list)


class Tenant:
    """Thread-safe in-memory directory. Mutators record changes for /users/delta."""

    def __init__(
        self, *, user_count: int = 50, domain: str = "contoso.test", seed: str = ""
    ) -> None:
        self.lock = threading.RLock()
        self.domain = domain
        self.tenant_id = str(uuid.UUID(hashlib.sha256(f"tenant{seed}".encode()).hexdigest()[:32]))
        # A per-tenant id prefix, so two emulators never share user ids by accident.
        self._id_prefix = hashlib.sha256(f"ids{seed}{self.tenant_id}".encode()).hexdigest()[:8]
        self._base_count = user_count
        self._next_index = user_count
        self._users: dict[int, User] = {}
        self._upn_index: dict[str, int] = {}
        # Change log for delta: (sequence number, user index), appended in order.
        self._changes: list[tuple[int, int]] = []
        self._sequence = 0
        # Bumped to invalidate every delta/skip token issued so far.
        self.delta_epoch = 1
        self.delta_expiry_code = "syncStateNotFound"
        self.role_assignments: list[RoleAssignmentRecord] = []
        # Privileged Identity Management: roles a principal may activate but does not hold.
        self.role_eligibilities: list[RoleAssignmentRecord] = []
        self.groups: dict[str, Group] = {}
        # Entra ID P1/P2 in the tenant: the registration report needs it.
        self.premium = True
        # When the registration report was last refreshed: one time for the whole report.
        self.report_updated_at = datetime(2025, 1, 1, 6, 0, tzinfo=UTC)
        self._seed_roles()

    # --- ids and generation ---------------------------------------------------------------

    def user_id_for(self, index: int) -> str:
        return f"{self._id_prefix}-{index >> 48 & 0xFFFF:04x}-4{index >> 36 & 0xFFF:03x}-8000-{index & 0xFFFFFFFFFFFF:012x}"

    def _index_from_id(self, user_id: str) -> int | None:
        match = re.fullmatch(
            rf"{self._id_prefix}-([0-9a-f]{{4}})-4([0-9a-f]{{3}})-8000-([0-9a-f]{{12}})",
            user_id.lower(),
        )
        if not match:
            return None
        return (
            int(match.group(1), 16) << 48 | int(match.group(2), 16) << 36 | int(match.group(3), 16)
        )

    def _generate(self, index: int) -> User:
        if index < len(_FIXED_USERS):
            alias, display_name = _FIXED_USERS[index]
            given, surname = display_name.split(" ", 1)
            upn = f"{alias}@{self.domain}"
        else:
            given = FIRST_NAMES[index % len(FIRST_NAMES)]
            surname = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            display_name = f"{given} {surname}"
            if index % 211 == 17:
                display_name = HOSTILE_DISPLAY_NAMES[index % len(HOSTILE_DISPLAY_NAMES)]
            upn = f"{_ascii_slug(given)}.{_ascii_slug(surname)}.{index}@{self.domain}"
        guest = index >= len(_FIXED_USERS) and index % 97 == 50
        if guest:
            upn = f"{_ascii_slug(given)}_fabrikam.example#EXT#.{index}@{self.domain}"
        licensed = index < len(_FIXED_USERS) or (index % 13 != 12 and not guest)
        user = User(
            index=index,
            id=self.user_id_for(index),
            user_principal_name=upn,
            display_name=display_name,
            given_name=given,
            surname=surname,
            mail=upn if licensed else None,
            account_enabled=index < len(_FIXED_USERS) or index % 47 != 46,
            licensed=licensed,
            user_type="Guest" if guest else "Member",
            ever_licensed=licensed,
        )
        if index >= len(_FIXED_USERS):
            self._generate_mfa(user)
        return user

    def _generate_mfa(self, user: User) -> None:
        bucket = user.index % 10
        user.per_user_mfa_state = (
            "enforced" if bucket >= 8 else "enabled" if bucket >= 6 else "disabled"
        )
        if bucket in (5, 8, 9):
            user.phones["mobile"] = f"+1 555{user.index % 10_000_000:07d}"
            user.preferred_method = "sms"
        if bucket == 9:
            user.authenticators.append(
                AuthenticatorApp(
                    id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"app{user.id}")),
                    display_name="iPhone 15",
                )
            )
            user.preferred_method = "push"
        if bucket == 8 and user.index % 20 == 8:
            user.software_oath.append(
                SoftwareOath(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"oath{user.id}")))
            )
        if user.index % 30 == 9:
            user.phones["office"] = f"+1 425555{user.index % 10_000:04d}x{user.index % 1000}"

    def _seed_roles(self) -> None:
        if self._base_count > 0:
            self.assign_role(
                GLOBAL_ADMINISTRATOR,
                self.user_id_for(0),
                record_id="lAPpYvVpN0KRkAEhdxReEJC2sEqbR_9Hr48lds9SGHI-1",
            )
        if self._base_count > 1:
            self.assign_role(AUTHENTICATION_ADMINISTRATOR, self.user_id_for(1))
        # Roles are also held by apps: the client must not mistake one for a user.
        self.assign_role(
            GLOBAL_ADMINISTRATOR,
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp{self.tenant_id}")),
            principal_type="servicePrincipal",
        )

    # --- look-ups -------------------------------------------------------------------------

    @property
    def user_count(self) -> int:
        """Users ever created (deleted ones included): the upper bound of indexes."""
        return self._next_index

    def user_at(self, index: int) -> User:
        """The user with this index, generated on first use."""
        with self.lock:
            user = self._users.get(index)
            if user is None:
                user = self._generate(index)
                self._users[index] = user
            return user

    def find(self, key: str) -> User | None:
        """A live user by id or user principal name (case-insensitive)."""
        with self.lock:
            index = self._index_from_id(key)
            if index is None:
                index = self._upn_index.get(key.lower())
            if index is None:
                match = re.search(r"\.(\d+)@", key)
                if match:
                    index = int(match.group(1))
            if index is None:
                fixed = [f"{alias}@{self.domain}" for alias, _ in _FIXED_USERS]
                if key.lower() in fixed:
                    index = fixed.index(key.lower())
            if index is None or not 0 <= index < self._next_index:
                return None
            user = self.user_at(index)
            if user.deleted:
                return None
            if self._index_from_id(key) is None and user.user_principal_name.lower() != key.lower():
                return None  # an old UPN after a rename
            return user

    def iter_users(self, start: int = 0) -> Iterator[User]:
        """Live users in index order from ``start`` (the paging order)."""
        index = start
        while index < self._next_index:
            user = self.user_at(index)
            if not user.deleted:
                yield user
            index += 1

    # --- changes (recorded for delta) -----------------------------------------------------

    def _record_change(self, user: User) -> None:
        self._sequence += 1
        self._changes.append((self._sequence, user.index))

    @property
    def sequence(self) -> int:
        return self._sequence

    def changed_indexes(self, after: int, up_to: int) -> list[int]:
        """Distinct user indexes changed in (after, up_to], in order of their last change."""
        with self.lock:
            last_change: dict[int, int] = {}
            for sequence, index in self._changes:
                if after < sequence <= up_to:
                    last_change[index] = sequence
            return sorted(last_change, key=last_change.__getitem__)

    def add_user(
        self,
        display_name: str,
        *,
        alias: str | None = None,
        account_enabled: bool = True,
        licensed: bool = True,
        per_user_mfa_state: str = "disabled",
    ) -> User:
        with self.lock:
            index = self._next_index
            self._next_index += 1
            upn = f"{alias or _ascii_slug(display_name)}@{self.domain}"
            user = User(
                index=index,
                id=self.user_id_for(index),
                user_principal_name=upn,
                display_name=display_name,
                given_name=None,
                surname=None,
                mail=upn if licensed else None,
                account_enabled=account_enabled,
                licensed=licensed,
                ever_licensed=licensed,
                per_user_mfa_state=per_user_mfa_state,
                created=iso(datetime.now(UTC)),
            )
            self._users[index] = user
            self._upn_index[upn.lower()] = index
            self._record_change(user)
            return user

    def update_user(self, user_id: str, **properties: Any) -> User:
        """Change directory properties (display_name, user_principal_name, mail,
        account_enabled, licensed, user_type), recorded for delta."""
        with self.lock:
            user = self._require(user_id)
            for name, value in properties.items():
                if not hasattr(user, name) or name in {"id", "index", "deleted"}:
                    raise AttributeError(f"unknown user property {name}")
                if name == "user_principal_name":
                    self._upn_index.pop(user.user_principal_name.lower(), None)
                    self._upn_index[str(value).lower()] = user.index
                if name == "licensed" and value:
                    user.ever_licensed = True
                setattr(user, name, value)
            self._record_change(user)
            return user

    def rename_user(self, user_id: str, display_name: str) -> User:
        return self.update_user(user_id, display_name=display_name)

    def disable_user(self, user_id: str) -> User:
        return self.update_user(user_id, account_enabled=False)

    def remove_user(self, user_id: str, *, permanently: bool = False) -> User:
        with self.lock:
            user = self._require(user_id)
            user.deleted = True
            user.removed_reason = "deleted" if permanently else "changed"
            self._upn_index.pop(user.user_principal_name.lower(), None)
            self.role_assignments = [r for r in self.role_assignments if r.principal_id != user.id]
            self.role_eligibilities = [
                r for r in self.role_eligibilities if r.principal_id != user.id
            ]
            for group in self.groups.values():
                if user.id in group.members:
                    group.members.remove(user.id)
            self._record_change(user)
            return user

    def expire_delta_tokens(self, code: str = "syncStateNotFound") -> None:
        """Every deltaLink and skiptoken issued so far now answers 410: with the error
        ``code`` (syncStateNotFound, SyncStateNotFound as real Graph has sent it, or
        resyncRequired), or, for ``"gone"``, bare with a Location header (the delta query
        overview's "Synchronization reset")."""
        with self.lock:
            self.delta_epoch += 1
            self.delta_expiry_code = code

    def _require(self, user_id: str) -> User:
        user = self.find(user_id)
        if user is None:
            raise KeyError(user_id)
        return user

    # --- roles ------------------------------------------------------------------------------

    def assign_role(
        self,
        role_definition_id: str,
        principal_id: str,
        *,
        principal_type: str = "user",
        record_id: str | None = None,
        directory_scope_id: str = "/",
        eligible: bool = False,
    ) -> RoleAssignmentRecord:
        """An active assignment, or with ``eligible`` a PIM eligibility (the role can be
        activated; roleEligibilityScheduleInstances lists it, roleAssignments does not)."""
        with self.lock:
            record = RoleAssignmentRecord(
                id=record_id or f"{'re' if eligible else 'ra'}-{uuid.uuid4().hex}",
                role_definition_id=role_definition_id,
                principal_id=principal_id,
                principal_type=principal_type,
                directory_scope_id=directory_scope_id,
            )
            (self.role_eligibilities if eligible else self.role_assignments).append(record)
            return record

    def add_group(
        self, display_name: str, members: list[str], *, role_assignable: bool = True
    ) -> Group:
        with self.lock:
            group = Group(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"group{self.tenant_id}{display_name}")),
                display_name=display_name,
                is_assignable_to_role=role_assignable,
                members=list(members),
            )
            self.groups[group.id] = group
            return group

    def groups_of(self, user_id: str) -> list[Group]:
        return [group for group in self.groups.values() if user_id in group.members]

    def is_admin(self, user: User) -> bool:
        principals = {user.id} | {group.id for group in self.groups_of(user.id)}
        return any(
            record.principal_id in principals
            for record in self.role_assignments + self.role_eligibilities
        )

    # --- MFA --------------------------------------------------------------------------------

    def set_mfa_state(self, user: User, state: str) -> None:
        with self.lock:
            # Microsoft: enabling a user who already registered a method makes them Enforced.
            user.per_user_mfa_state = (
                "enforced" if state == "enabled" and user.has_mfa_methods else state
            )

    def add_authenticator(self, user_id: str, display_name: str = "Pixel 8") -> AuthenticatorApp:
        with self.lock:
            user = self._require(user_id)
            app = AuthenticatorApp(
                id=str(uuid.uuid4()), display_name=display_name, created=iso(datetime.now(UTC))
            )
            user.authenticators.append(app)
            return app

    def add_software_oath(self, user_id: str) -> SoftwareOath:
        with self.lock:
            user = self._require(user_id)
            token = SoftwareOath(id=str(uuid.uuid4()), created=iso(datetime.now(UTC)))
            user.software_oath.append(token)
            return token

    def add_fido2(self, user_id: str, display_name: str = "YubiKey") -> Fido2Key:
        with self.lock:
            user = self._require(user_id)
            key = Fido2Key(id=str(uuid.uuid4()), display_name=display_name)
            user.fido2.append(key)
            return key

    def add_hardware_oath(self, user_id: str, serial_number: str = "OATH-0001") -> HardwareOath:
        with self.lock:
            user = self._require(user_id)
            token = HardwareOath(id=str(uuid.uuid4()), serial_number=serial_number)
            user.hardware_oath.append(token)
            return token

    def refresh_report(self) -> None:
        """The registration report is refreshed: every row carries the new time."""
        with self.lock:
            self.report_updated_at = max(
                datetime.now(UTC), self.report_updated_at + timedelta(seconds=1)
            )
