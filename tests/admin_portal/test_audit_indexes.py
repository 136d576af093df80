"""Every page that reads audit or job result rows finds them through an index, and those
tables keep no index that another one already covers: each index is one more write for every
row a bulk step adds (issue 15, docs/performance.md)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet

from mfaportal.admin_portal.jobs import PROBLEM_OUTCOMES
from mfaportal.admin_portal.models import BulkJob, BulkJobRow
from mfaportal.admin_portal.views.audit import audit_events
from mfaportal.admin_portal.views.jobs import rows_became_enforced
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def planner_prefers_indexes() -> Iterator[None]:
    """PostgreSQL reads a tiny table whole whatever its indexes; told not to, it still does
    where no index serves the query, which is what the tests look for."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_seqscan")


def read_whole(queryset: QuerySet[Any], table: str) -> bool:
    """Whether the database would read every row of ``table`` for this query (walking an
    index in order, filtering as it goes, counts as reading every row)."""
    plan = queryset.explain()
    if connection.vendor == "postgresql":
        return f"Seq Scan on {table}" in plan or "Index Cond" not in plan
    return any(
        line.split("SCAN ", 1)[1].split()[0] == table
        for line in plan.splitlines()
        if "SCAN " in line
    )


def test_the_audit_log_a_users_trail_and_a_jobs_results_are_read_through_an_index(
    admin: DirectoryUser, planner_prefers_indexes: None
) -> None:
    job = BulkJob.objects.create(kind=BulkJob.Kind.STATE, params={"state": 1}, total=1)
    audit = AuditEvent._meta.db_table
    rows = BulkJobRow._meta.db_table
    reads = {
        "user detail, audit trail": (AuditEvent.objects.filter(target=admin)[:20], audit),
        "audit log, by actor": (audit_events({"actor": admin.user_principal_name}), audit),
        "audit log, about a user": (audit_events({"target": admin.user_principal_name}), audit),
        "audit log, by action": (audit_events({"action": "mfa.state"}), audit),
        "a deleted user's events": (AuditEvent.objects.filter(target__in=[admin.pk]), audit),
        "job dialog, problems": (
            job.rows.filter(outcome__in=PROBLEM_OUTCOMES).order_by("line", "id")[:50],
            rows,
        ),
        "job results, download": (BulkJobRow.objects.filter(job=job).order_by("line", "id"), rows),
    }
    whole = [name for name, (queryset, table) in reads.items() if read_whole(queryset, table)]
    assert whole == []


def test_the_result_dialog_finds_who_became_enforced_without_reading_every_changed_user(
    planner_prefers_indexes: None,
) -> None:
    """The dialog lists the first fifty users an Enable made Enforced and counts the rest:
    read through an index of the rows that carry a reason, not by reading each of the job's
    changed rows (9,168 in the bench's Enable of 10k users) twice (issue 15)."""
    job = BulkJob.objects.create(kind=BulkJob.Kind.STATE, params={"state": 1}, total=600)
    rows = [("changed", "")] * 500 + [("changed", "Already registered.")] * 50
    rows += [("skipped", "Only licensed users are eligible.")] * 50
    BulkJobRow.objects.bulk_create(
        BulkJobRow(
            job=job, user_principal_name=f"u{number}@contoso.test", outcome=outcome, reason=reason
        )
        for number, (outcome, reason) in enumerate(rows)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {BulkJobRow._meta.db_table}")
    became_enforced = rows_became_enforced(job)
    for queryset in (became_enforced.order_by("line", "id")[:50], became_enforced.values("id")):
        plan = queryset.explain()
        assert "bulkjobrow_job_reason" in plan, plan


def single_column_indexes(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        info["columns"][0]
        for info in constraints.values()
        if info["index"] and not info["primary_key"] and len(info["columns"]) == 1
    }


def test_audit_and_result_rows_keep_no_index_another_one_covers() -> None:
    # audit_actor_at, audit_target_at and bulkjobrow_job_outcome lead with these columns.
    assert single_column_indexes(AuditEvent._meta.db_table) & {"actor_id", "target_id"} == set()
    assert single_column_indexes(BulkJobRow._meta.db_table) & {"job_id"} == set()
