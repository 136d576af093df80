"""DESIGN §3's state table and the role rules, as ``mfaportal.mfa.policy`` answers them.

Every page, the CSV check, the CLI and the services ask the policy, so these tables are the
rules of the whole product.
"""

from __future__ import annotations

import pytest

from mfaportal.core import roles
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState

DISABLED, ENABLED, ENFORCED = MfaState.DISABLED, MfaState.ENABLED, MfaState.ENFORCED


@pytest.mark.parametrize(
    ("requested", "registered", "result"),
    [
        (ENABLED, False, ENABLED),  # enrolled, registers at the next sign-in
        (ENABLED, True, ENFORCED),  # enabling a registered user makes them Enforced
        (ENFORCED, False, ENFORCED),  # allowed before registration (warned on the page)
        (ENFORCED, True, ENFORCED),
        (DISABLED, False, DISABLED),
        (DISABLED, True, DISABLED),  # disable keeps the methods
    ],
)
def test_the_state_a_request_ends_in(requested: MfaState, registered: bool, result: MfaState):
    assert policy.resulting_state(requested, registered=registered) == result


@pytest.mark.parametrize(
    ("state", "licensed", "eligible"),
    [
        (ENABLED, True, True),
        (ENFORCED, True, True),
        (DISABLED, True, True),
        (ENABLED, False, False),
        (ENFORCED, False, False),
        (DISABLED, False, True),  # an unlicensed user can always be disabled
    ],
)
def test_only_licensed_users_are_eligible(state: MfaState, licensed: bool, eligible: bool):
    target = policy.Target(
        user_id=7,
        holds_admin_role=False,
        beyond_authentication_administrator_reach=False,
        is_licensed=licensed,
    )
    reason = policy.eligible(target, state)
    assert (reason == "") == eligible
    if not eligible:
        assert reason == "Only licensed users are eligible for multi-factor authentication."


@pytest.mark.parametrize(
    ("current", "licensed", "offered"),
    [
        (DISABLED, True, (ENABLED,)),
        (ENABLED, True, (ENFORCED, DISABLED)),
        (ENFORCED, True, (DISABLED,)),
        (DISABLED, False, ()),
        (ENABLED, False, (DISABLED,)),
        (ENFORCED, False, (DISABLED,)),
    ],
)
def test_the_quick_steps_a_users_state_offers(
    current: MfaState, licensed: bool, offered: tuple[MfaState, ...]
):
    assert policy.states_offered(current, licensed=licensed) == offered


def acting(role: roles.BuiltInRole, user_id: int = 1) -> policy.Actor:
    """Someone holding ``role`` tenant-wide, on an admin page."""
    return policy.Actor(user_id=user_id, capabilities=roles.capabilities_for({role.template_id}))


def holding(*role_ids: str, user_id: int = 9) -> policy.Target:
    """A user holding these roles, as the cache holds them (limited ids included)."""
    return policy.Target(
        user_id=user_id,
        holds_admin_role=bool(role_ids),
        beyond_authentication_administrator_reach=roles.beyond_authentication_administrator_reach(
            set(role_ids)
        ),
    )


GA = acting(roles.GLOBAL_ADMINISTRATOR)
APA = acting(roles.AUTHENTICATION_POLICY_ADMINISTRATOR)
PAA = acting(roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR)
AA = acting(roles.AUTHENTICATION_ADMINISTRATOR)
READERS = [acting(roles.GLOBAL_READER), acting(roles.SECURITY_READER), acting(roles.REPORTS_READER)]
EXCHANGE_ADMIN = acting(roles.ROLES_BY_TEMPLATE_ID["29232cdf-9323-42fd-ade2-1d097af3e4de"])
EMPLOYEE = policy.Actor(user_id=3)
EMPLOYEE_ON_OWN_PAGES = policy.Actor(user_id=3, self_service=True)
CLI = policy.Actor(user_id=None)

PLAIN_USER = holding()
THEMSELVES = holding(user_id=3)
GLOBAL_ADMIN = holding(roles.GLOBAL_ADMINISTRATOR.template_id)
ELIGIBLE_GLOBAL_ADMIN = holding(roles.limited_role_id(roles.GLOBAL_ADMINISTRATOR.template_id))
PASSWORD_ADMIN = holding("966707d0-3269-4727-9be2-8c3a10f19b9d")
ELIGIBLE_PASSWORD_ADMIN = holding(roles.limited_role_id("966707d0-3269-4727-9be2-8c3a10f19b9d"))
DIRECTORY_READER = holding("88d8e3e3-8f55-4a1e-953a-9b9898b8876b")
HELPDESK_ADMIN = holding("729827e3-9c14-49f7-bb1b-9608f156bbb8")
PASSWORD_ADMIN_AND_HELPDESK_ADMIN = holding(
    "966707d0-3269-4727-9be2-8c3a10f19b9d", "729827e3-9c14-49f7-bb1b-9608f156bbb8"
)
CUSTOM_ROLE = holding("11111111-2222-3333-4444-555555555555")

NOT_STATE = "Only global administrators and authentication policy administrators"
NOT_METHODS = "Only global administrators and (privileged) authentication administrators"
BEYOND_REACH = "Authentication administrators can't change users who hold a privileged"
METHOD_ACTIONS = [action for action in policy.Action if action != policy.Action.STATE]


@pytest.mark.parametrize(
    ("actor", "target", "refusal"),
    [
        (GA, PLAIN_USER, ""),
        (GA, GLOBAL_ADMIN, ""),
        (APA, PLAIN_USER, ""),
        (APA, GLOBAL_ADMIN, ""),
        (PAA, PLAIN_USER, NOT_STATE),
        (AA, PLAIN_USER, NOT_STATE),
        *[(reader, PLAIN_USER, NOT_STATE) for reader in READERS],
        (EXCHANGE_ADMIN, PLAIN_USER, NOT_STATE),
        (EMPLOYEE, PLAIN_USER, NOT_STATE),
        (CLI, GLOBAL_ADMIN, ""),
    ],
    ids=[
        "global-admin",
        "global-admin-on-a-global-admin",
        "authentication-policy-admin",
        "authentication-policy-admin-on-a-global-admin",
        "privileged-authentication-admin",
        "authentication-admin",
        "global-reader",
        "security-reader",
        "reports-reader",
        "exchange-admin",
        "employee",
        "cli",
    ],
)
def test_who_may_change_the_mfa_state(actor: policy.Actor, target: policy.Target, refusal: str):
    reason = policy.may_change(actor, target, policy.Action.STATE)
    assert reason.startswith(refusal) and (reason == "") == (refusal == "")


@pytest.mark.parametrize("action", METHOD_ACTIONS)
@pytest.mark.parametrize(
    ("actor", "target", "refusal"),
    [
        (GA, GLOBAL_ADMIN, ""),
        (PAA, GLOBAL_ADMIN, ""),
        (PAA, ELIGIBLE_GLOBAL_ADMIN, ""),
        (PAA, CUSTOM_ROLE, ""),
        (AA, PLAIN_USER, ""),
        (AA, PASSWORD_ADMIN, ""),
        (AA, ELIGIBLE_PASSWORD_ADMIN, ""),
        (AA, DIRECTORY_READER, ""),
        (AA, holding(roles.AUTHENTICATION_ADMINISTRATOR.template_id), ""),
        (AA, holding(roles.REPORTS_READER.template_id), ""),
        (AA, GLOBAL_ADMIN, BEYOND_REACH),
        (AA, ELIGIBLE_GLOBAL_ADMIN, BEYOND_REACH),
        (AA, HELPDESK_ADMIN, BEYOND_REACH),
        (AA, PASSWORD_ADMIN_AND_HELPDESK_ADMIN, BEYOND_REACH),
        (AA, holding(roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR.template_id), BEYOND_REACH),
        (AA, holding(roles.SECURITY_READER.template_id), BEYOND_REACH),
        (AA, CUSTOM_ROLE, BEYOND_REACH),
        (APA, PLAIN_USER, NOT_METHODS),
        *[(reader, PLAIN_USER, NOT_METHODS) for reader in READERS],
        (EMPLOYEE, PLAIN_USER, NOT_METHODS),
        (EMPLOYEE, THEMSELVES, NOT_METHODS),
        (EMPLOYEE_ON_OWN_PAGES, THEMSELVES, ""),
        (EMPLOYEE_ON_OWN_PAGES, PLAIN_USER, NOT_METHODS),
        (CLI, GLOBAL_ADMIN, ""),
    ],
    ids=[
        "global-admin-on-a-global-admin",
        "privileged-authentication-admin-on-a-global-admin",
        "privileged-authentication-admin-on-an-eligible-global-admin",
        "privileged-authentication-admin-on-a-custom-role",
        "authentication-admin-on-a-user",
        "authentication-admin-on-a-password-admin",
        "authentication-admin-on-an-eligible-password-admin",
        "authentication-admin-on-a-directory-reader",
        "authentication-admin-on-an-authentication-admin",
        "authentication-admin-on-a-reports-reader",
        "authentication-admin-on-a-global-admin",
        "authentication-admin-on-an-eligible-global-admin",
        "authentication-admin-on-a-helpdesk-admin",
        "authentication-admin-on-a-password-and-helpdesk-admin",
        "authentication-admin-on-a-privileged-authentication-admin",
        "authentication-admin-on-a-security-reader",
        "authentication-admin-on-a-custom-role",
        "authentication-policy-admin",
        "global-reader",
        "security-reader",
        "reports-reader",
        "employee-on-an-admin-page",
        "employee-on-themselves-from-an-admin-page",
        "self-service-own-account",
        "self-service-someone-else",
        "cli",
    ],
)
def test_who_may_change_sign_in_methods_sessions_and_passwords(
    actor: policy.Actor, target: policy.Target, refusal: str, action: policy.Action
):
    reason = policy.may_change(actor, target, action)
    assert reason.startswith(refusal) and (reason == "") == (refusal == "")


def test_an_eligible_or_scoped_role_gives_nothing_but_protects_its_holder():
    eligible_ga = {roles.limited_role_id(roles.GLOBAL_ADMINISTRATOR.template_id)}
    assert roles.capabilities_for(eligible_ga) == frozenset()
    assert roles.beyond_authentication_administrator_reach(eligible_ga)


def test_each_role_gives_what_design_section_1_says():
    cap = roles.Capability
    assert roles.capabilities_for({roles.GLOBAL_ADMINISTRATOR.template_id}) == frozenset(cap)
    assert roles.capabilities_for({roles.AUTHENTICATION_POLICY_ADMINISTRATOR.template_id}) == {
        cap.VIEW_ADMIN,
        cap.CHANGE_STATE,
        cap.CHANGE_SETTINGS,
    }
    assert roles.capabilities_for({roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR.template_id}) == {
        cap.VIEW_ADMIN,
        cap.MANAGE_METHODS,
        cap.MANAGE_METHODS_OF_PRIVILEGED,
    }
    assert roles.capabilities_for({roles.AUTHENTICATION_ADMINISTRATOR.template_id}) == {
        cap.VIEW_ADMIN,
        cap.MANAGE_METHODS,
    }
    for reader in (roles.GLOBAL_READER, roles.SECURITY_READER, roles.REPORTS_READER):
        assert roles.capabilities_for({reader.template_id}) == {cap.VIEW_ADMIN}
    assert roles.capabilities_for({"29232cdf-9323-42fd-ade2-1d097af3e4de"}) == frozenset()
    # Roles add up: a policy admin who is also an authentication admin does both.
    both = {
        roles.AUTHENTICATION_POLICY_ADMINISTRATOR.template_id,
        roles.AUTHENTICATION_ADMINISTRATOR.template_id,
    }
    assert {cap.CHANGE_STATE, cap.MANAGE_METHODS} <= roles.capabilities_for(both)
