"""Directory roles and what they let a person do in the portal (DESIGN §1's role table).

The role template ids are Microsoft Entra's built-in role ids; they are the same in every
tenant, so local mode and graph mode agree on what "Global Administrator" is. The list holds
every role Entra labels *privileged* (MicrosoftDocs/entra-docs, role-based-access-control/
permissions-reference.md, "All roles", the PRIVILEGED label; ids copied from its Template ID
column) and the other administrator roles the portal lists: graph mode's sync reads who holds
each, so a user holding any of them is known to hold an admin role.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

# Role names are Entra's English names, stored and matched as they are; marked here so the
# pages can show them translated (DirectoryRole.label, .view_label).
from django.utils.translation import gettext_noop as _


@dataclass(frozen=True)
class BuiltInRole:
    template_id: str
    display_name: str
    # How the role is listed in the admin page's View filter (English; gettext it to show).
    view_label: str
    # Labelled PRIVILEGED by Microsoft: it can change credentials, authentication or
    # authorization policies, or reach restricted data.
    privileged: bool = False


GLOBAL_ADMINISTRATOR = BuiltInRole(
    "62e90394-69f5-4237-9190-012177145e10",
    _("Global Administrator"),
    _("Global administrators"),
    privileged=True,
)
AUTHENTICATION_ADMINISTRATOR = BuiltInRole(
    "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    _("Authentication Administrator"),
    _("Authentication administrators"),
    privileged=True,
)
PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = BuiltInRole(
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    _("Privileged Authentication Administrator"),
    _("Privileged authentication administrators"),
    privileged=True,
)
PRIVILEGED_ROLE_ADMINISTRATOR = BuiltInRole(
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
    _("Privileged Role Administrator"),
    _("Privileged role administrators"),
    privileged=True,
)


def _privileged(template_id: str, display_name: str, view_label: str) -> BuiltInRole:
    return BuiltInRole(template_id, display_name, view_label, privileged=True)


BUILT_IN_ROLES: tuple[BuiltInRole, ...] = (
    GLOBAL_ADMINISTRATOR,
    AUTHENTICATION_ADMINISTRATOR,
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    PRIVILEGED_ROLE_ADMINISTRATOR,
    BuiltInRole(
        "0526716b-113d-4c15-b2c8-68e3c22b9f80",
        _("Authentication Policy Administrator"),
        _("Authentication policy administrators"),
    ),
    BuiltInRole(
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        _("Billing Administrator"),
        _("Billing administrators"),
    ),
    BuiltInRole(
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        _("Exchange Administrator"),
        _("Exchange administrators"),
    ),
    _privileged(
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        _("Helpdesk Administrator"),
        _("Helpdesk administrators"),
    ),
    _privileged(
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        _("Password Administrator"),
        _("Password administrators"),
    ),
    _privileged(
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        _("Security Administrator"),
        _("Security administrators"),
    ),
    BuiltInRole(
        "f023fd81-a637-4b56-95fd-791ac0226033",
        _("Service Support Administrator"),
        _("Service support administrators"),
    ),
    BuiltInRole(
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        _("SharePoint Administrator"),
        _("SharePoint administrators"),
    ),
    BuiltInRole(
        "69091246-20e8-4a56-aa4d-066075b2a7a8", _("Teams Administrator"), _("Teams administrators")
    ),
    _privileged(
        "fe930be7-5e62-47db-91af-98c3a49a38b1", _("User Administrator"), _("User administrators")
    ),
    # The other roles Entra labels privileged.
    _privileged(
        "db506228-d27e-4b7d-95e5-295956d6615f",
        _("Agent ID Administrator"),
        _("Agent ID administrators"),
    ),
    _privileged(
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        _("Application Administrator"),
        _("Application administrators"),
    ),
    _privileged(
        "cf1c38e5-3621-4004-a7cb-879624dced7c",
        _("Application Developer"),
        _("Application developers"),
    ),
    _privileged(
        "ecb2c6bf-0ab6-418e-bd87-7986f8d63bbe",
        _("Attribute Provisioning Administrator"),
        _("Attribute provisioning administrators"),
    ),
    _privileged(
        "422218e4-db15-4ef9-bbe0-8afb41546d79",
        _("Attribute Provisioning Reader"),
        _("Attribute provisioning readers"),
    ),
    _privileged(
        "25a516ed-2fa0-40ea-a2d0-12923a21473a",
        _("Authentication Extensibility Administrator"),
        _("Authentication extensibility administrators"),
    ),
    _privileged(
        "aaf43236-0c0d-4d5f-883a-6955382ac081",
        _("B2C IEF Keyset Administrator"),
        _("B2C IEF keyset administrators"),
    ),
    _privileged(
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        _("Cloud Application Administrator"),
        _("Cloud application administrators"),
    ),
    _privileged(
        "7698a772-787b-4ac8-901f-60d6b08affd2",
        _("Cloud Device Administrator"),
        _("Cloud device administrators"),
    ),
    _privileged(
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        _("Conditional Access Administrator"),
        _("Conditional Access administrators"),
    ),
    _privileged(
        "9360feb5-f418-4baa-8175-e2a00bac4301", _("Directory Writers"), _("Directory writers")
    ),
    _privileged(
        "8329153b-31d0-4727-b945-745eb3bc5f31",
        _("Domain Name Administrator"),
        _("Domain name administrators"),
    ),
    _privileged(
        "be2f45a1-457d-42af-a067-6ec1fa63bc45",
        _("External Identity Provider Administrator"),
        _("External identity provider administrators"),
    ),
    _privileged("f2ef992c-3afb-46b9-b7cf-a126ee74c451", _("Global Reader"), _("Global readers")),
    _privileged(
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        _("Hybrid Identity Administrator"),
        _("Hybrid identity administrators"),
    ),
    _privileged(
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        _("Intune Administrator"),
        _("Intune administrators"),
    ),
    _privileged(
        "59d46f88-662b-457b-bceb-5c3809e5908f",
        _("Lifecycle Workflows Administrator"),
        _("Lifecycle workflows administrators"),
    ),
    _privileged(
        "4ba39ca4-527c-499a-b93d-d9b492c50246",
        _("Partner Tier1 Support"),
        _("Partner tier 1 support"),
    ),
    _privileged(
        "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",
        _("Partner Tier2 Support"),
        _("Partner tier 2 support"),
    ),
    _privileged(
        "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f", _("Security Operator"), _("Security operators")
    ),
    _privileged(
        "5d6b6bb7-de71-4623-b4af-96380a352509", _("Security Reader"), _("Security readers")
    ),
    # Not privileged, listed because it reads the portal's pages (DESIGN §1).
    BuiltInRole("4a5d8f65-41da-4de4-8968-e035b65339cf", _("Reports Reader"), _("Reports readers")),
)
ROLES_BY_TEMPLATE_ID = {role.template_id: role for role in BUILT_IN_ROLES}
PRIVILEGED_ROLES = tuple(role for role in BUILT_IN_ROLES if role.privileged)

# A role held without standing power over the whole tenant: eligible in Privileged Identity
# Management and not activated, or assigned over an administrative unit only. Entra protects
# the holder all the same (only those who may act on admins may reset their methods), so the
# cache keeps it, as a role of its own that grants no portal role: the portal gives only what
# a role does tenant-wide, now.
_LIMITED_NAMESPACE = uuid.UUID("3f6c2f1e-7a4b-5c1d-9e2f-4a6b8c0d1e2f")


def limited_role_id(template_id: str) -> str:
    """The cache's id for holding ``template_id`` only as eligible or scoped."""
    return str(uuid.uuid5(_LIMITED_NAMESPACE, template_id))


LIMITED_ROLES_BY_ID = {limited_role_id(role.template_id): role for role in BUILT_IN_ROLES}
LIMITED_DISPLAY_SUFFIX = " (eligible or scoped)"


AUTHENTICATION_POLICY_ADMINISTRATOR = ROLES_BY_TEMPLATE_ID["0526716b-113d-4c15-b2c8-68e3c22b9f80"]
GLOBAL_READER = ROLES_BY_TEMPLATE_ID["f2ef992c-3afb-46b9-b7cf-a126ee74c451"]
SECURITY_READER = ROLES_BY_TEMPLATE_ID["5d6b6bb7-de71-4623-b4af-96380a352509"]
REPORTS_READER = ROLES_BY_TEMPLATE_ID["4a5d8f65-41da-4de4-8968-e035b65339cf"]


class Capability(enum.StrEnum):
    """What a held role lets a person do here. The views and the policy ask for these, never
    for a role by name, so a role's reach is written once (``CAPABILITIES``)."""

    VIEW_ADMIN = "view_admin"  # every admin page, report, audit log and job, read-only
    CHANGE_STATE = "change_state"  # per-user MFA state: quick steps, bulk update, CSV
    CHANGE_SETTINGS = "change_settings"  # service settings (and graph mode's Sync now)
    MANAGE_METHODS = "manage_methods"  # methods, re-registration, sessions, password, fraud
    # ... of users who hold a role beyond an Authentication Administrator's reach.
    MANAGE_METHODS_OF_PRIVILEGED = "manage_methods_of_privileged"


_READ = frozenset({Capability.VIEW_ADMIN})
CAPABILITIES: dict[str, frozenset[Capability]] = {
    GLOBAL_ADMINISTRATOR.template_id: frozenset(Capability),
    AUTHENTICATION_POLICY_ADMINISTRATOR.template_id: _READ
    | {Capability.CHANGE_STATE, Capability.CHANGE_SETTINGS},
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR.template_id: _READ
    | {Capability.MANAGE_METHODS, Capability.MANAGE_METHODS_OF_PRIVILEGED},
    AUTHENTICATION_ADMINISTRATOR.template_id: _READ | {Capability.MANAGE_METHODS},
    GLOBAL_READER.template_id: _READ,
    SECURITY_READER.template_id: _READ,
    REPORTS_READER.template_id: _READ,
}


def capabilities_for(template_ids: set[str]) -> frozenset[Capability]:
    """What the roles held tenant-wide and active give. An eligible or scoped role (its
    ``limited_role_id``) gives nothing: the portal grants only what a role does tenant-wide,
    now."""
    granted: frozenset[Capability] = frozenset()
    for template_id in template_ids:
        granted |= CAPABILITIES.get(template_id, frozenset())
    return granted


# The roles an Authentication Administrator may still act on: the rows of Microsoft's "Who
# can perform sensitive actions" table with a tick in the Auth Admin column
# (MicrosoftDocs/entra-docs, docs/identity/role-based-access-control/
# privileged-roles-permissions.md; ids from permissions-reference.md's Template ID column).
# Its "Who can reset passwords" table ticks the same rows for Auth Admin, so one set serves
# methods, sessions and passwords alike.
# A holder of any other role, built-in or custom, is beyond its reach. A role held only as
# eligible or over an administrative unit counts as held: Entra protects its holder all the
# same (PIM's eligible members may activate it at any moment).
WITHIN_AUTHENTICATION_ADMINISTRATOR_REACH = frozenset(
    {
        AUTHENTICATION_ADMINISTRATOR.template_id,
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",  # Directory Readers
        "95e79109-95c0-4d8e-aee3-d01accf2d47b",  # Guest Inviter
        "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",  # Message Center Reader
        "966707d0-3269-4727-9be2-8c3a10f19b9d",  # Password Administrator
        REPORTS_READER.template_id,
        "27460883-1df1-4691-b032-3b79643e5e63",  # User Experience Success Manager
        "75934031-6c7e-415a-99d7-48dbd49e875e",  # Usage Summary Reports Reader
    }
)


# The same, as the ids the cache holds (a role itself, or its eligible-or-scoped id): what a
# query asks of a user's roles without reading them.
WITHIN_REACH_ROLE_IDS = WITHIN_AUTHENTICATION_ADMINISTRATOR_REACH | {
    limited_role_id(template_id) for template_id in WITHIN_AUTHENTICATION_ADMINISTRATOR_REACH
}


def beyond_authentication_administrator_reach(role_ids: set[str]) -> bool:
    """Whether someone holding these roles (as the cache holds them, limited ones included)
    is protected from an Authentication Administrator: only Privileged Authentication and
    Global Administrators may reset their methods, sessions or password."""
    return not role_ids <= WITHIN_REACH_ROLE_IDS
