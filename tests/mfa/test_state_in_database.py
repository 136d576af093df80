"""Issue 15: a state change applied by the database (``mfa_state_set_in_database``) decides,
writes and audits exactly what ``mfa_state_set`` does, user by user, for every actor and every
kind of user; only the cost differs (a few statements, whatever the number of users)."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.mfa.services import mfa_state_set
from mfaportal.mfa.services.state import StateChanges, mfa_state_set_in_database
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ACTOR_ROLES = {
    "global-admin": roles.GLOBAL_ADMINISTRATOR,
    "authentication-policy-admin": roles.AUTHENTICATION_POLICY_ADMINISTRATOR,
    "authentication-admin": roles.AUTHENTICATION_ADMINISTRATOR,
    "privileged-authentication-admin": roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    "global-reader": roles.GLOBAL_READER,
}
AUDITED = (
    "actor_id",
    "actor_label",
    "target_id",
    "target_label",
    "action",
    "before",
    "after",
    "source",
    "ip_address",
    "detail",
)


def tenant() -> list[DirectoryUser]:
    """A user of every kind a state change tells apart: each current state, with and without
    an MFA row, licensed or not, registered or not, holding a role or not."""
    users = []
    kinds = itertools.product(
        MfaState, (True, False), (True, False), (None, roles.GLOBAL_ADMINISTRATOR)
    )
    for number, (state, licensed, registered, role) in enumerate(kinds):
        users.append(
            make_user(
                f"kind{number:02d}@contoso.test",
                state=state,
                is_licensed=licensed,
                registered=registered,
                admin_role=role,
            )
        )
    for number in range(3):
        rowless = make_user(f"rowless{number}@contoso.test", is_licensed=number != 1)
        UserMfa.objects.filter(user=rowless).delete()
        users.append(rowless)
    return users


def audited() -> list[tuple[Any, ...]]:
    """The state changes' audit events, by target (the service writes them grouped by the
    state they end in, the database in the order asked)."""
    events = AuditEvent.objects.filter(action="mfa.state").values_list(*AUDITED)
    return sorted(events, key=lambda event: event[AUDITED.index("target_id")])


def states() -> dict[int, int]:
    return dict(UserMfa.objects.values_list("user_id", "state"))


def recorded(changes: StateChanges) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT upn, outcome, reason FROM ({changes.sql}) AS changes ORDER BY position",
            changes.params,
        )
        return cursor.fetchall()


@pytest.mark.parametrize("requested", list(MfaState), ids=lambda state: state.code)
@pytest.mark.parametrize("who", [*ACTOR_ROLES, "command-line"])
def test_the_database_decides_writes_and_audits_as_the_service_does_for_everyone(
    who: str, requested: MfaState
) -> None:
    if who == "command-line":
        context = ChangeContext(actor=None, source=AuditSource.CLI)
    else:
        actor = make_user("actor@contoso.test", admin_role=ACTOR_ROLES[who])
        context = ChangeContext(actor=actor, source=AuditSource.PAGE, ip_address="192.0.2.7")
    users = tenant()
    if context.actor is not None:
        users.insert(5, DirectoryUser.objects.get(pk=context.actor.pk))
    ids = [user.pk for user in reversed(users)]
    answers: list[list[tuple[Any, ...]]] = []

    with transaction.atomic():
        mfa_state_set_in_database(
            user_ids=ids,
            state=requested,
            context=context,
            record=lambda changes: answers.append(recorded(changes)),
        )
        by_database = (audited(), states())
        transaction.set_rollback(True)
    with transaction.atomic():
        outcome = mfa_state_set(
            users=DirectoryUser.objects.filter(pk__in=ids), state=requested, context=context
        )
        by_service = (audited(), states())
        transaction.set_rollback(True)

    expected = {
        result.user_principal_name: (kind, result.reason)
        for kind in ("changed", "unchanged", "skipped")
        for result in getattr(outcome, kind)
    }
    assert answers == [
        [
            (user.user_principal_name, *expected[user.user_principal_name])
            for user in reversed(users)
        ]
    ]
    assert by_database == by_service
    # Something happened in this case, or nothing was allowed to.
    assert by_database[0] or not outcome.changed


def test_a_user_that_no_longer_exists_is_answered_with_no_user_and_no_outcome() -> None:
    user = make_user("gone@contoso.test")
    gone = user.pk
    user.delete()
    kept = make_user("kept@contoso.test")
    answers: list[list[tuple[Any, ...]]] = []
    mfa_state_set_in_database(
        user_ids=[gone, kept.pk],
        state=MfaState.ENABLED,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
        record=lambda changes: answers.append(recorded(changes)),
    )
    assert answers == [[(None, None, ""), ("kept@contoso.test", "changed", "")]]
    assert UserMfa.objects.get(user=kept).state == MfaState.ENABLED


def test_the_policy_is_asked_per_kind_of_user_not_per_user(monkeypatch) -> None:
    admin = make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    users = [make_user(f"many{n}@contoso.test") for n in range(40)]
    asked = []
    original = policy.may_change

    def counting(*args: Any, **kwargs: Any) -> str:
        asked.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(policy, "may_change", counting)
    mfa_state_set_in_database(
        user_ids=[user.pk for user in users],
        state=MfaState.ENABLED,
        context=ChangeContext(actor=admin, source=AuditSource.PAGE),
    )
    assert len(asked) == 2 ** len(policy.Traits.names())
    assert set(UserMfa.objects.filter(user__in=users).values_list("state", flat=True)) == {
        MfaState.ENABLED
    }


def test_in_graph_mode_the_database_refuses_to_change_states_behind_graphs_back(
    settings,
) -> None:
    """Graph mode sends each change through the outbox with the state it replaces
    (``mfa_state_set``); a change written only here would never reach Entra ID."""
    settings.MFAPORTAL_DIRECTORY = "graph"
    user = make_user()
    with pytest.raises(ValueError, match="use mfa_state_set"):
        mfa_state_set_in_database(
            user_ids=[user.pk],
            state=MfaState.ENABLED,
            context=ChangeContext(actor=None, source=AuditSource.CLI),
        )
    assert UserMfa.objects.get(user=user).state == MfaState.DISABLED


def test_two_changes_in_one_transaction_each_answer_for_their_own_users() -> None:
    """A job run inside a caller's transaction applies several chunks before anything
    commits: each chunk's answers are its own, never the one before's as well."""
    first = [make_user(f"first{n}@contoso.test") for n in range(3)]
    second = [make_user(f"second{n}@contoso.test") for n in range(2)]
    answers: list[list[tuple[Any, ...]]] = []
    with transaction.atomic():
        for users in (first, second):
            mfa_state_set_in_database(
                user_ids=[user.pk for user in users],
                state=MfaState.ENFORCED,
                context=ChangeContext(actor=None, source=AuditSource.CLI),
                record=lambda changes: answers.append(recorded(changes)),
            )
    assert answers == [
        [(user.user_principal_name, "changed", "") for user in first],
        [(user.user_principal_name, "changed", "") for user in second],
    ]
    assert AuditEvent.objects.filter(action="mfa.state").count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_state_written_while_a_change_runs_waits_for_it_and_is_not_lost() -> None:
    """The users' states stay as the change read them until it commits: a registration
    completing meanwhile (which makes the user Enforced) waits, then applies, instead of
    being overwritten by the change (SQLite: the write lock; PostgreSQL: the table lock)."""
    from tests.admin_portal.test_bulk_update_limits import started_in_a_thread

    user = make_user("racer@contoso.test")
    reading = threading.Event()
    go_on = threading.Event()
    failures: list[BaseException] = []

    def hold(changes: StateChanges) -> None:
        reading.set()
        go_on.wait(10)

    def change() -> None:
        mfa_state_set_in_database(
            user_ids=[user.pk],
            state=MfaState.ENABLED,
            context=ChangeContext(actor=None, source=AuditSource.CLI),
            record=hold,
        )

    def registration_completes() -> None:
        UserMfa.objects.filter(user=user).update(state=MfaState.ENFORCED)

    changing = started_in_a_thread(change, failures, budget=10)
    assert reading.wait(10)
    registering = started_in_a_thread(registration_completes, failures, budget=10)
    time.sleep(0.5)
    waited = registering.is_alive()
    go_on.set()
    changing.join()
    registering.join()
    assert not failures, failures
    assert waited
    assert UserMfa.objects.get(user=user).state == MfaState.ENFORCED
