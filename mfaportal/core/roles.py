"""Directory roles and the portal role they grant.

The role template ids are Microsoft Entra's built-in role ids; they are the same in every
tenant, so local mode and graph mode agree on what "Global Administrator" is.
"""

from __future__ import annotations

import enum
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


GLOBAL_ADMINISTRATOR = BuiltInRole(
    "62e90394-69f5-4237-9190-012177145e10", _("Global Administrator"), _("Global administrators")
)
AUTHENTICATION_ADMINISTRATOR = BuiltInRole(
    "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    _("Authentication Administrator"),
    _("Authentication administrators"),
)
PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = BuiltInRole(
    "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    _("Privileged Authentication Administrator"),
    _("Privileged authentication administrators"),
)

BUILT_IN_ROLES: tuple[BuiltInRole, ...] = (
    GLOBAL_ADMINISTRATOR,
    AUTHENTICATION_ADMINISTRATOR,
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
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
    BuiltInRole(
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        _("Helpdesk Administrator"),
        _("Helpdesk administrators"),
    ),
    BuiltInRole(
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        _("Password Administrator"),
        _("Password administrators"),
    ),
    BuiltInRole(
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
    BuiltInRole(
        "fe930be7-5e62-47db-91af-98c3a49a38b1", _("User Administrator"), _("User administrators")
    ),
)
ROLES_BY_TEMPLATE_ID = {role.template_id: role for role in BUILT_IN_ROLES}


class PortalRole(enum.StrEnum):
    ADMIN = "admin"
    HELPDESK = "helpdesk"
    USER = "user"


def portal_role_for(template_ids: set[str]) -> PortalRole:
    """Global Administrator → admin, Authentication Administrator → helpdesk, else user."""
    if GLOBAL_ADMINISTRATOR.template_id in template_ids:
        return PortalRole.ADMIN
    if AUTHENTICATION_ADMINISTRATOR.template_id in template_ids:
        return PortalRole.HELPDESK
    return PortalRole.USER
