"""DESIGN §3's state table and the role rules, as ``mfaportal.mfa.policy`` answers them.

Every page, the CSV check, the CLI and the services ask the policy, so these tables are the
rules of the whole product.
"""

from __future__ import annotations

import pytest

from mfaportal.core.roles import PortalRole
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
    target = policy.Target(user_id=7, holds_admin_role=False, is_licensed=licensed)
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


ADMIN = policy.Actor(user_id=1, role=PortalRole.ADMIN)
HELPDESK = policy.Actor(user_id=2, role=PortalRole.HELPDESK)
EMPLOYEE = policy.Actor(user_id=3, role=PortalRole.USER)
EMPLOYEE_ON_OWN_PAGES = policy.Actor(user_id=3, role=PortalRole.USER, self_service=True)
CLI = policy.Actor(user_id=None)
PLAIN_USER = policy.Target(user_id=9, holds_admin_role=False)
ROLE_HOLDER = policy.Target(user_id=9, holds_admin_role=True)
THEMSELVES = policy.Target(user_id=3, holds_admin_role=False)
HELPDESK_REFUSAL = "Authentication administrators can't change users who hold an admin role."


@pytest.mark.parametrize("action", list(policy.Action))
@pytest.mark.parametrize(
    ("actor", "target", "refusal"),
    [
        (ADMIN, PLAIN_USER, ""),
        (ADMIN, ROLE_HOLDER, ""),
        (HELPDESK, PLAIN_USER, ""),
        (HELPDESK, ROLE_HOLDER, HELPDESK_REFUSAL),
        (CLI, ROLE_HOLDER, ""),
        (EMPLOYEE_ON_OWN_PAGES, THEMSELVES, ""),
        (EMPLOYEE_ON_OWN_PAGES, PLAIN_USER, "Only administrators"),
        (EMPLOYEE, THEMSELVES, "Only administrators"),
        (EMPLOYEE, PLAIN_USER, "Only administrators"),
    ],
    ids=[
        "admin-user",
        "admin-role-holder",
        "helpdesk-user",
        "helpdesk-role-holder",
        "cli-role-holder",
        "self-service-own-account",
        "self-service-someone-else",
        "employee-on-an-admin-page",
        "employee-someone-else",
    ],
)
def test_who_may_change_whom(
    actor: policy.Actor, target: policy.Target, refusal: str, action: policy.Action
):
    reason = policy.may_change(actor, target, action)
    assert reason.startswith(refusal) and (reason == "") == (refusal == "")
