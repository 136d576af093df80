"""Migrations that move data keep it: a job's description stopped being stored text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("admin_portal", "0002_users_list_order_indexes")]
AFTER = [("admin_portal", "0003_bulkjob_description_worded_when_shown")]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    yield executor
    # Leave the test database as every other test expects it: fully migrated.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate(executor: MigrationExecutor, targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor.migrate(targets)
    executor.loader.build_graph()
    return MigrationExecutor(connection)


def test_a_bulk_update_keeps_its_file_name_when_the_stored_description_goes(
    executor: MigrationExecutor,
) -> None:
    executor = migrate(executor, BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    upload = old.get_model("admin_portal", "BulkUpload").objects.create(file_name="wave.csv")
    old.get_model("admin_portal", "BulkJob").objects.create(
        kind="bulk_update", description="bulk update from wave.csv: 3 rows", upload=upload, total=3
    )

    executor = migrate(executor, AFTER)
    # The model below is today's: read it with every later migration applied.
    executor = migrate(executor, executor.loader.graph.leaf_nodes())

    from mfaportal.admin_portal.models import BulkJob

    job = BulkJob.objects.get()
    assert job.params == {"file_name": "wave.csv"}
    assert job.description == "bulk update from wave.csv: 3 rows"


def test_the_description_migration_can_be_undone_with_jobs_in_the_table(
    executor: MigrationExecutor,
) -> None:
    from mfaportal.admin_portal.models import BulkJob

    BulkJob.objects.create(kind="state", params={"state": 1}, total=3)
    executor = migrate(executor, BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    assert old.get_model("admin_portal", "BulkJob").objects.get().description == ""


def test_a_files_bad_lines_move_to_their_own_table_and_a_running_job_does_not_copy_them_twice(
    executor: MigrationExecutor,
) -> None:
    before = [("admin_portal", "0003_bulkjob_description_worded_when_shown")]
    executor = migrate(executor, before)
    old = executor.loader.project_state(before).apps
    upload = old.get_model("admin_portal", "BulkUpload").objects.create(
        file_name="wave.csv",
        rows=[[2, "a@contoso.test", 1, 7]],
        errors=[[4, "c@contoso.test", "Unknown."], [3, "b@contoso.test", "Bad value."]],
    )
    old.get_model("admin_portal", "BulkJob").objects.create(
        kind="bulk_update", upload=upload, total=1, params={"file_name": "wave.csv"}
    )

    executor = migrate(executor, executor.loader.graph.leaf_nodes())

    from mfaportal.admin_portal.models import BulkJob, BulkUpload, BulkUploadError

    moved = BulkUpload.objects.get()
    assert (moved.row_count, moved.error_count) == (1, 2)
    problems = list(BulkUploadError.objects.filter(upload=moved).order_by("id"))
    assert [(error.line, error.reason) for error in problems] == [
        (3, "Bad value."),
        (4, "Unknown."),
    ]
    assert BulkJob.objects.get().invalid_copied_to == problems[-1].pk
