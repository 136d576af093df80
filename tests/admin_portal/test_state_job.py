"""Enable, Enforce and Disable as a job (issue 15): in local mode each chunk is a few
set-based statements, whatever its number of users, with the same result rows, audit events
and counters as before; graph mode still sends each change through the outbox; and sign-ins
go on while a large job runs (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mfaportal.admin_portal import jobs
from mfaportal.admin_portal.jobs import runner
from mfaportal.admin_portal.models import BulkJob, BulkJobRow
from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from tests.admin_portal.conftest import bulk_users, states
from tests.admin_portal.test_bulk_update_limits import (
    WaitLikeAFileDatabase,
    started_in_a_thread,
)
from tests.factories import PASSWORD, make_user

BECAME = "Already registered, so Enabled became Enforced."
UNLICENSED = "Only licensed users are eligible for multi-factor authentication."


def results(job: BulkJob) -> list[tuple[Any, ...]]:
    return list(
        BulkJobRow.objects.filter(job=job)
        .order_by("id")
        .values_list("line", "user_principal_name", "requested", "outcome", "reason")
    )


def counters(job: BulkJob) -> tuple[int, ...]:
    job.refresh_from_db()
    return (job.done, job.changed, job.unchanged, job.skipped, job.failed)


@pytest.mark.django_db
def test_an_enable_job_answers_for_every_user_in_the_order_asked(admin: DirectoryUser) -> None:
    plain = make_user("plain@contoso.test")
    UserMfa.objects.filter(user=plain).delete()  # never had an MFA row: Disabled
    registered = make_user("registered@contoso.test", registered=True)
    enabled = make_user("enabled@contoso.test", state=MfaState.ENABLED)
    unlicensed = make_user("unlicensed@contoso.test", is_licensed=False)
    enforced = make_user("enforced@contoso.test", state=MfaState.ENFORCED, registered=True)
    gone = make_user("gone@contoso.test")
    gone_id = gone.pk
    gone.delete()
    asked = [enforced.pk, gone_id, unlicensed.pk, enabled.pk, registered.pk, plain.pk]

    job = jobs.state_job_create(step="enable", user_ids=asked, actor=admin, ip_address="192.0.2.7")
    jobs.job_run(job.pk)

    assert results(job) == [
        (None, "enforced@contoso.test", "Enabled", "unchanged", ""),
        (None, f"#{gone_id}", "Enabled", "failed", "The user no longer exists."),
        (None, "unlicensed@contoso.test", "Enabled", "skipped", UNLICENSED),
        (None, "enabled@contoso.test", "Enabled", "unchanged", ""),
        (None, "registered@contoso.test", "Enabled", "changed", BECAME),
        (None, "plain@contoso.test", "Enabled", "changed", ""),
    ]
    assert counters(job) == (6, 2, 2, 1, 1)
    assert job.status == BulkJob.Status.SUCCEEDED
    assert states([plain, registered, enabled, unlicensed, enforced]) == {
        "plain@contoso.test": MfaState.ENABLED,
        "registered@contoso.test": MfaState.ENFORCED,
        "enabled@contoso.test": MfaState.ENABLED,
        "unlicensed@contoso.test": MfaState.DISABLED,
        "enforced@contoso.test": MfaState.ENFORCED,
    }
    events = AuditEvent.objects.filter(action="mfa.state").order_by("target_id")
    assert [
        (
            event.actor_id,
            event.actor_label,
            event.target_id,
            event.target_label,
            event.before,
            event.after,
            event.source,
            event.ip_address,
            event.detail,
        )
        for event in events
    ] == [
        (admin.pk, "admin@contoso.test", user.pk, upn, "Disabled", after, "page", "192.0.2.7", {})
        for user, upn, after in sorted(
            [
                (plain, "plain@contoso.test", "Enabled"),
                (registered, "registered@contoso.test", "Enforced"),
            ],
            key=lambda item: item[0].pk,
        )
    ]


@pytest.mark.django_db
def test_a_job_started_by_someone_who_may_no_longer_change_states_skips_everyone(
    admin: DirectoryUser,
) -> None:
    """The policy is the job's, applied as it runs: a job resumed after its creator lost the
    role changes nobody, and says why for each user."""
    users = bulk_users(3, prefix="kept")
    job = jobs.state_job_create(
        step="enforce", user_ids=[user.pk for user in users], actor=admin, ip_address=None
    )
    admin.roles.clear()
    admin.roles.add(
        make_user("ref@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR).roles.get()
    )
    jobs.job_run(job.pk)
    assert {row[3] for row in results(job)} == {"skipped"}
    assert {row[4] for row in results(job)} == {
        "Only global administrators and authentication policy administrators can change "
        "a user's multi-factor authentication state."
    }
    assert counters(job) == (3, 0, 0, 3, 0)
    assert set(states(users).values()) == {MfaState.DISABLED}


def _queries_of_one_chunk(admin: DirectoryUser, count: int, prefix: str) -> int:
    users = bulk_users(count, prefix=prefix)
    job = jobs.state_job_create(
        step="enable", user_ids=[user.pk for user in users], actor=admin, ip_address=None
    )
    with CaptureQueriesContext(connection) as queries:
        jobs.job_run(job.pk)
    assert counters(job) == (count, count, 0, 0, 0)
    assert set(states(users).values()) == {MfaState.ENABLED}
    return len(queries.captured_queries)


@pytest.mark.django_db
def test_an_enable_of_twelve_hundred_users_costs_the_queries_of_an_enable_of_twelve(
    admin: DirectoryUser,
) -> None:
    """Issue 15: a chunk is a few set-based statements, not work per user (or per few
    hundred users): the number of queries does not grow with the chunk."""
    few = _queries_of_one_chunk(admin, 12, "few")
    many = _queries_of_one_chunk(admin, 1200, "many")
    assert many == few


@pytest.mark.django_db
def test_in_graph_mode_a_state_job_still_sends_each_change_through_the_outbox(
    admin: DirectoryUser, settings, django_capture_on_commit_callbacks
) -> None:
    from mfaportal.entra.models import OutboxChange

    settings.MFAPORTAL_DIRECTORY = "graph"
    users = bulk_users(5, prefix="graph")
    with django_capture_on_commit_callbacks(execute=False):
        job = jobs.state_job_create(
            step="enforce", user_ids=[user.pk for user in users], actor=admin, ip_address=None
        )
        jobs.job_run(job.pk)
    assert counters(job) == (5, 5, 0, 0, 0)
    changes = OutboxChange.objects.filter(kind=OutboxChange.Kind.MFA_STATE)
    assert sorted(changes.values_list("user_id", flat=True)) == sorted(user.pk for user in users)
    assert {(change.payload["state"], change.payload["previous"]) for change in changes} == {
        ("enforced", "disabled")
    }


def _signs_in() -> bool:
    response = Client().post(
        reverse("signin"), {"username": "adele@contoso.test", "password": PASSWORD}
    )
    return response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db(transaction=True)
def test_sign_in_works_while_a_large_enable_job_runs(admin: DirectoryUser, monkeypatch) -> None:
    """Issue 14: a job holds the database's write lock for one chunk at a time, and rests
    between chunks, so a sign-in (which writes: its attempt, the sign-in log) waits for a
    chunk at most. Small chunks here, so that the job runs long enough to sign in often."""
    monkeypatch.setattr(runner, "SET_BASED_CHUNK", 200)
    make_user("adele@contoso.test")
    users = bulk_users(6000, prefix="large")
    failures: list[BaseException] = []
    progress: list[int] = []
    job = jobs.state_job_create(
        step="enable", user_ids=[user.pk for user in users], actor=admin, ip_address=None
    )
    BulkJob.objects.filter(pk=job.pk).update(background=True)

    worker = started_in_a_thread(lambda: jobs.job_run(job.pk), failures, budget=20)
    try:
        with connection.execute_wrapper(WaitLikeAFileDatabase(budget=10)):
            while worker.is_alive():
                assert _signs_in()
                status, done = BulkJob.objects.values_list("status", "done").get(pk=job.pk)
                if status == BulkJob.Status.RUNNING and 0 < done < len(users):
                    progress.append(done)
    finally:
        worker.join()
    assert not failures, failures
    assert counters(job) == (6000, 6000, 0, 0, 0)
    # Signed in between chunks, at several points of the job, not only before or after it.
    assert len(set(progress)) >= 3


@pytest.mark.django_db
def test_enabling_all_that_match_reads_the_matching_users_once(admin_client: Client) -> None:
    """Issue 15: the step reads the matching ids (and counts them as it reads them), not a
    count of the matches and then their ids."""
    users = bulk_users(40, prefix="once")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(
            reverse("admin_portal:step", args=["enable"]),
            {"q": "once", "all": "1"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    user_table = DirectoryUser._meta.db_table
    reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT")
        and f'FROM "{user_table}"' in query["sql"]
        and "session" not in query["sql"]
        and "password" not in query["sql"]
    ]
    assert len(reads) == 1, reads
    assert "COUNT(" not in reads[0]
    job = BulkJob.objects.get()
    assert (job.total, job.changed) == (40, 40)
    assert set(states(users).values()) == {MfaState.ENABLED}


@pytest.mark.django_db
def test_a_select_all_enable_reads_its_list_of_users_once_and_its_dialog_never(
    admin_client: Client,
) -> None:
    """Issue 15: a job's list of ids (9,703 of them in the bench, 97k at 100k users) is read
    by the job that applies it, not again by the dialog that shows the result nor by the job
    page the admin polls."""
    bulk_users(40, prefix="list")
    job_table = BulkJob._meta.db_table

    def id_list_reads(queries: CaptureQueriesContext) -> int:
        return sum(
            1
            for query in queries.captured_queries
            if query["sql"].startswith("SELECT")
            and f'FROM "{job_table}"' in query["sql"]
            and '"user_ids"' in query["sql"]
        )

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(
            reverse("admin_portal:step", args=["enable"]),
            {"q": "list", "all": "1"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert id_list_reads(queries) == 1
    job = BulkJob.objects.get()
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(reverse("admin_portal:job", args=[job.pk]))
    assert page.status_code == 200
    assert id_list_reads(queries) == 0


@pytest.mark.django_db
def test_a_set_based_job_builds_no_unit_per_user(admin: DirectoryUser, monkeypatch) -> None:
    """Issue 15: a select-all Enable of 100k users spent ~0.1 s building a unit per user
    before its first chunk; a set-based chunk needs only the ids."""
    from mfaportal.admin_portal.jobs import base

    users = bulk_users(50, prefix="units")
    built = []
    original = base.Work.__new__

    def counting(cls: type, *args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(base.Work, "__new__", counting)
    job = jobs.state_job_create(
        step="enable", user_ids=[user.pk for user in users], actor=admin, ip_address=None
    )
    jobs.job_run(job.pk)
    assert counters(job) == (50, 50, 0, 0, 0)
    assert built == []
