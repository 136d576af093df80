"""The permission matrix: every route by every role (DESIGN §1) → the status a GET and a POST
answer. A route added later without a row here fails ``test_every_route_has_a_row``.

Roles are Entra's, held tenant-wide: Global Administrator (``ga``), Authentication Policy
Administrator (``apa``), Privileged Authentication Administrator (``paa``), Authentication
Administrator (``aa``), the three readers (``gr``, ``sr``, ``rr``), a person with no role
(``user``), nobody signed in (``anon``), and an Authentication Administrator acting on a user
beyond its reach (``aa_priv``: the target holds Global Administrator). Every other actor acts
on a user who holds no role.

Each route is asked as each role in a savepoint rolled back afterwards, so every role meets
the same tenant. A POST refused (403) must leave the tenant as it was.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal.models import BulkJob, BulkUpload
from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import AppPassword, ServiceSettings, UserMfa
from tests.core.test_every_page_is_checked import routes
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ROLES = ("anon", "user", "ga", "apa", "paa", "aa", "gr", "sr", "rr", "aa_priv")
STAFF = ROLES[2:]
HELD = {
    "ga": roles.GLOBAL_ADMINISTRATOR,
    "apa": roles.AUTHENTICATION_POLICY_ADMINISTRATOR,
    "paa": roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    "aa": roles.AUTHENTICATION_ADMINISTRATOR,
    "gr": roles.GLOBAL_READER,
    "sr": roles.SECURITY_READER,
    "rr": roles.REPORTS_READER,
    "aa_priv": roles.AUTHENTICATION_ADMINISTRATOR,
}
# Who holds what the POST of each kind of admin action needs.
CHANGE_STATE = ("ga", "apa")
CHANGE_SETTINGS = ("ga", "apa")
MANAGE_METHODS = ("ga", "paa", "aa")  # and not aa_priv: the target is beyond its reach
# Those whose role manages methods at all, whoever the target.
ON_SOMEONE = (*MANAGE_METHODS, "aa_priv")
READERS = ("gr", "sr", "rr")


def statuses(anon: int, user: int, staff: int | None = None, **per_role: int) -> dict[str, int]:
    """A row of the matrix: ``staff`` for every admin role unless ``per_role`` says else."""
    row = {"anon": anon, "user": user}
    for role in STAFF:
        row[role] = per_role.get(role, staff if staff is not None else user)
    return row


def only(allowed: tuple[str, ...], yes: int, no: int = 403) -> dict[str, int]:
    """An admin action: ``yes`` for the roles in ``allowed``, ``no`` for the other admin
    roles, sign-in for anonymous visitors, 403 for a person without a role."""
    return statuses(302, 403, no, **{role: yes for role in allowed})


ADMIN_READ = statuses(302, 403, 200)
# A GET-only admin address asked with POST: the role check comes first, then the method.
ADMIN_READ_ONLY_POST = statuses(302, 403, 405)
# Own security info: the same for every signed-in person, whatever roles they hold.
OWN_PAGE = statuses(302, 200)


@dataclass(frozen=True)
class Row:
    get: dict[str, int]
    post: dict[str, int]
    kwargs: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)


MATRIX: dict[str, list[Row]] = {
    # Public addresses: the same for everyone.
    "home": [Row(statuses(302, 302), statuses(405, 405))],
    "favicon": [Row(statuses(302, 302), statuses(405, 405))],
    "health": [Row(statuses(200, 200), statuses(405, 405))],
    "ready": [Row(statuses(200, 200), statuses(405, 405))],
    "set_language": [Row(statuses(302, 302), statuses(302, 302), data={"language": "es"})],
    "legacy_auth": [Row(statuses(401, 401), statuses(405, 405))],
    "telephony_call": [
        Row(statuses(405, 405), statuses(401, 401), kwargs={"challenge_id": "{uuid}"})
    ],
    "signin": [Row(statuses(200, 200), statuses(200, 200))],
    "signout": [Row(statuses(302, 200), statuses(302, 302))],
    "entra:start": [Row(statuses(404, 404), statuses(405, 405))],
    "entra:callback": [Row(statuses(405, 405), statuses(404, 404))],
    # The half-finished sign-in: without one in the session, back to the start.
    "signin_flow:verify": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:verify_other": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:more_information": [Row(statuses(302, 302), statuses(405, 405))],
    "signin_flow:register": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:register_app": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:register_verify": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:register_passkey": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:register_backup": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:register_app_passwords": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:update_password": [Row(statuses(302, 302), statuses(302, 302))],
    "signin_flow:forgot_password": [Row(statuses(200, 200), statuses(200, 200))],
    # Sign-in with a Temporary Access Pass (a POST without one shows the form again).
    "signin_flow:temporary_access_pass": [Row(statuses(200, 200), statuses(200, 200))],
    "signin_flow:forgot_verify": [Row(statuses(200, 200), statuses(200, 200))],
    "signin_flow:forgot_code": [Row(statuses(200, 200), statuses(200, 200))],
    "signin_flow:forgot_new_password": [Row(statuses(200, 200), statuses(200, 200))],
    "signin_flow:forgot_done": [Row(statuses(302, 302), statuses(405, 405))],
    # The simulators (on in the tests' settings).
    "demo:phone": [Row(statuses(200, 200), statuses(405, 405))],
    "demo:phone_answer": [
        Row(statuses(405, 405), statuses(404, 404), kwargs={"message_id": "999999"})
    ],
    "demo:mail": [Row(statuses(200, 200), statuses(405, 405))],
    "demo:authenticator": [Row(statuses(200, 200), statuses(405, 405))],
    "demo:authenticator_respond": [
        Row(statuses(405, 405), statuses(404, 302), kwargs={"challenge_id": "{uuid}"})
    ],
    # Own security info.
    "selfservice:setup": [Row(OWN_PAGE, statuses(302, 400))],
    "selfservice:verify_change": [Row(statuses(302, 302), statuses(302, 302))],
    "selfservice:method_delete": [
        Row(statuses(302, 405), statuses(302, 404), kwargs={"method_id": "999999"})
    ],
    "selfservice:passkey_setup": [Row(statuses(302, 405), statuses(302, 302))],
    "selfservice:passkey_new": [Row(statuses(302, 302), statuses(302, 302))],
    "selfservice:passkey_rename": [
        Row(statuses(302, 405), statuses(302, 404), kwargs={"method_id": "999999"})
    ],
    "selfservice:restore_devices": [Row(statuses(302, 405), statuses(302, 302))],
    "selfservice:app_setup": [Row(OWN_PAGE, OWN_PAGE)],
    "selfservice:app_configure": [Row(statuses(302, 302), statuses(302, 302))],
    "selfservice:reauthenticate": [Row(statuses(302, 302), statuses(302, 302))],
    "selfservice:recovery": [Row(statuses(302, 302), statuses(302, 302))],
    "selfservice:recovery_email": [Row(statuses(302, 302), statuses(302, 302))],
    "selfservice:recovery_phone": [Row(statuses(302, 302), statuses(302, 302))],
    # App passwords are not allowed by default: creating one is refused to everyone.
    "selfservice:app_passwords": [Row(OWN_PAGE, statuses(302, 403))],
    "selfservice:app_password_created": [
        Row(OWN_PAGE, statuses(302, 405), kwargs={"secret_id": "{uuid}"})
    ],
    "selfservice:app_password_delete": [
        Row(statuses(302, 404), statuses(302, 404), kwargs={"app_password_id": "999999"})
    ],
    # Graph mode's sync panel: not in local mode, but the role check comes first.
    # (The method is checked before the role on these two.)
    "entra:sync": [Row(statuses(302, 403, 404), statuses(405, 405))],
    "entra:sync_now": [Row(statuses(405, 405), only(CHANGE_SETTINGS, 404))],
    # The admin pages: every admin role reads them; a change needs its capability.
    "admin_portal:active_users": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:users": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:steps": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST, data={"u": "{target}"})],
    "admin_portal:step": [
        Row(
            only(CHANGE_STATE, 200),
            only(CHANGE_STATE, 302),
            kwargs={"step": "enable"},
            data={"u": "{target}"},
        ),
        # The dialog opens for an Authentication Administrator (the pane offers nothing for
        # a privileged user); the step skips the user it may not change, with the reason.
        Row(
            only(ON_SOMEONE, 200),
            only(ON_SOMEONE, 302),
            kwargs={"step": "manage"},
            data={"u": "{target}", "delete_app_passwords": "on"},
        ),
    ],
    "admin_portal:users_count": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:users_report": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:recent_jobs": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:user_detail": [
        Row(ADMIN_READ, ADMIN_READ_ONLY_POST, kwargs={"object_id": "{target_oid}"})
    ],
    "admin_portal:user_manage": [
        Row(
            # The method is checked before the target (405 for aa_priv too).
            only(ON_SOMEONE, 405),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}"},
            data={"delete_app_passwords": "on"},
        )
    ],
    "admin_portal:user_revoke": [
        Row(
            # The method is checked before the target (405 for aa_priv too).
            only(ON_SOMEONE, 405),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}"},
        )
    ],
    "admin_portal:user_passkey_delete": [
        Row(
            # The method is checked before the target (405 for aa_priv too).
            only(ON_SOMEONE, 405),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}", "method_id": "999999"},
        )
    ],
    "admin_portal:user_fraud_unblock": [
        Row(
            # The method is checked before the target (405 for aa_priv too).
            only(ON_SOMEONE, 405),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}"},
        )
    ],
    "admin_portal:user_password_reset": [
        Row(
            only(MANAGE_METHODS, 200),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}"},
        )
    ],
    "admin_portal:user_password_shown": [
        Row(
            only(MANAGE_METHODS, 200),
            only(ON_SOMEONE, 405),
            kwargs={"object_id": "{target_oid}", "secret_id": "{uuid}"},
        )
    ],
    # Temporary Access Pass (issue 16.2): issued, shown once, deleted like the password reset.
    "admin_portal:user_tap": [
        Row(
            only(MANAGE_METHODS, 200),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}"},
            data={"lifetime": "1", "unit": "hours"},
        )
    ],
    "admin_portal:user_tap_shown": [
        Row(
            only(MANAGE_METHODS, 200),
            only(ON_SOMEONE, 405),
            kwargs={"object_id": "{target_oid}", "secret_id": "{uuid}"},
        )
    ],
    "admin_portal:user_tap_delete": [
        Row(
            only(ON_SOMEONE, 405),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}"},
        )
    ],
    "admin_portal:job": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST, kwargs={"job_id": "{job}"})],
    "admin_portal:job_results": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST, kwargs={"job_id": "{job}"})],
    # A state job: resumed by those who could have started it.
    "admin_portal:job_resume": [
        Row(statuses(302, 403, 405), only(CHANGE_STATE, 302), kwargs={"job_id": "{job}"})
    ],
    # Readers see the page without its form; a POST without a file shows the form again.
    "admin_portal:bulk_update": [Row(ADMIN_READ, only(CHANGE_STATE, 200))],
    "admin_portal:bulk_sample": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    # An upload is its author's (each actor here has one of their own, with no rows).
    "admin_portal:bulk_verify": [
        Row(ADMIN_READ, ADMIN_READ_ONLY_POST, kwargs={"upload_id": "{upload}"})
    ],
    "admin_portal:bulk_apply": [
        Row(only(CHANGE_STATE, 405), only(CHANGE_STATE, 302), kwargs={"upload_id": "{upload}"})
    ],
    "admin_portal:service_settings": [
        Row(
            ADMIN_READ,
            only(CHANGE_SETTINGS, 302),
            data={
                "app_passwords": "allow",
                "method_call": "on",
                "remember_devices_days": "30",
                "password_reset_methods_required": "1",
            },
        )
    ],
    "admin_portal:audit": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:signins": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:signins_csv": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    "admin_portal:guide": [Row(ADMIN_READ, ADMIN_READ_ONLY_POST)],
    # Hardware OATH tokens (issue 16.3): every admin reads the list; uploading, deactivating
    # and deleting need MANAGE_METHODS (a POST without a file shows the page again), and the
    # service asks the reach rule about the token's owner (tests/admin_portal/
    # test_hardware_tokens.py).
    "admin_portal:hardware_tokens": [Row(ADMIN_READ, only(ON_SOMEONE, 200))],
    "admin_portal:hardware_token_assign": [
        Row(
            only(ON_SOMEONE, 405),
            only(ON_SOMEONE, 302),
            kwargs={"token_id": "999999"},
            data={"user": "target@contoso.test"},
        )
    ],
    "admin_portal:hardware_token_deactivate": [
        Row(only(ON_SOMEONE, 405), only(ON_SOMEONE, 302), kwargs={"token_id": "999999"})
    ],
    "admin_portal:hardware_token_delete": [
        Row(only(ON_SOMEONE, 405), only(ON_SOMEONE, 302), kwargs={"token_id": "999999"})
    ],
    "admin_portal:user_hardware_token_activate": [
        Row(
            only(ON_SOMEONE, 405),
            only(MANAGE_METHODS, 302),
            kwargs={"object_id": "{target_oid}", "token_id": "999999"},
        )
    ],
    "selfservice:hardware_token_activate": [
        Row(statuses(302, 405), statuses(302, 302), kwargs={"token_id": "999999"})
    ],
}


@dataclass
class Tenant:
    actors: dict[str, DirectoryUser]
    plain: DirectoryUser
    privileged: DirectoryUser

    def target_of(self, role: str) -> DirectoryUser:
        return self.privileged if role == "aa_priv" else self.plain

    def fingerprint(self) -> Any:
        """What a refused POST must not change."""
        settings = ServiceSettings.objects.values().first()
        return (
            sorted(UserMfa.objects.values_list("user_id", "state", "blocked_for_fraud_at")),
            sorted(DirectoryUser.objects.values_list("id", "session_version", "password")),
            AppPassword.objects.count(),
            BulkJob.objects.count(),
            {key: value for key, value in (settings or {}).items() if key != "updated_at"},
        )


@pytest.fixture
def tenant(db: None) -> Tenant:
    actors = {"user": make_user("plain@contoso.test")}
    for role, held in HELD.items():
        actors[role] = make_user(f"{role.replace('_', '-')}@contoso.test", admin_role=held)
    plain = make_user("target@contoso.test")
    privileged = make_user("target-ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    for user in (plain, privileged):
        AppPassword.objects.create(user=user, name="Outlook", digest=f"{user.pk:064d}")
    return Tenant(actors, plain, privileged)


def ask(tenant: Tenant, role: str, row: Row, name: str) -> tuple[int, int, bool]:
    """GET and POST the row's address as ``role``; whether a refused POST left all as it was."""
    client = Client()
    actor = tenant.actors.get(role)
    if actor is not None:
        client.force_login(actor)
    owner = actor if actor is not None and role in STAFF else tenant.actors["ga"]
    target = tenant.target_of(role)
    values = {
        "target": str(target.pk),
        "target_oid": str(target.object_id),
        "job": str(
            BulkJob.objects.create(
                kind=BulkJob.Kind.STATE, created_by=tenant.actors["ga"], params={"state": 1}
            ).pk
        ),
        "upload": str(BulkUpload.objects.create(created_by=owner, file_name="x.csv").pk),
        "uuid": str(uuid.uuid4()),
    }
    url = reverse(name, kwargs={key: value.format(**values) for key, value in row.kwargs.items()})
    data = {key: value.format(**values) for key, value in row.data.items()}
    got = client.get(url, data).status_code
    before = tenant.fingerprint()
    posted = client.post(url, data).status_code
    kept = posted != 403 or tenant.fingerprint() == before
    return got, posted, kept


class Rollback(Exception):
    pass


def observed(tenant: Tenant, row: Row, name: str) -> tuple[dict[str, int], dict[str, int], list]:
    gets: dict[str, int] = {}
    posts: dict[str, int] = {}
    changed_when_refused = []
    for role in ROLES:
        try:
            with transaction.atomic():
                gets[role], posts[role], kept = ask(tenant, role, row, name)
                raise Rollback
        except Rollback:
            pass
        if not kept:
            changed_when_refused.append(role)
    return gets, posts, changed_when_refused


CASES = [(name, index) for name, rows in MATRIX.items() for index in range(len(rows))]


def case_id(case: tuple[str, int]) -> str:
    name, index = case
    return f"{name}#{index}" if len(MATRIX[name]) > 1 else name


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_each_role_gets_what_design_section_1_gives_it(tenant: Tenant, case) -> None:
    name, index = case
    row = MATRIX[name][index]
    gets, posts, changed = observed(tenant, row, name)
    wrong = [
        f"{method} as {role}: {got[role]}, expected {expected[role]}"
        for method, got, expected in (("GET", gets, row.get), ("POST", posts, row.post))
        for role in ROLES
        if got[role] != expected[role]
    ]
    assert not wrong, f"{name}: " + "; ".join(wrong)
    assert not changed, f"{name}: a POST refused with 403 changed the tenant for {changed}"


def test_every_route_has_a_row() -> None:
    missing = sorted(set(routes()) - set(MATRIX))
    assert not missing, (
        f"{missing}: add each to MATRIX in tests/core/test_permission_matrix.py with the status "
        "every role gets for GET and POST."
    )
    assert not set(MATRIX) - set(routes()), "MATRIX names a route that no longer exists"


def test_a_route_added_later_without_a_row_is_caught() -> None:
    assert sorted({*routes(), "admin_portal:a_new_page"} - set(MATRIX)) == [
        "admin_portal:a_new_page"
    ]


def test_every_role_is_asked() -> None:
    assert set(ROLES) == {"anon", "user", *HELD}
    assert all(
        set(row.get) == set(ROLES) == set(row.post) for rows in MATRIX.values() for row in rows
    )
