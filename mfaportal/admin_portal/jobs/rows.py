"""Result rows written by the database: a set-based chunk's per-user answers, copied into
``BulkJobRow`` with one ``INSERT ... SELECT`` (the runner writes the others from an
``Outcome``, ``runner._rows_for``; both word a row the same way)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import connection

from mfaportal.admin_portal.jobs.base import no_such_user
from mfaportal.admin_portal.models import BulkJob, BulkJobRow
from mfaportal.core.bulk_sql import column, placeholder, value

COLUMNS = ("job", "line", "user_principal_name", "requested", "outcome", "reason")


def job_rows_record(job: BulkJob, *, sql: str, params: list[Any], requested: str) -> Counter[str]:
    """One result row per row of the query ``sql`` (columns ``position``, ``user_id``,
    ``upn``, ``outcome``, ``reason``; ``upn`` NULL for a user who no longer exists), in
    ``position`` order; how many rows of each outcome."""
    quote = connection.ops.quote_name
    table = quote(BulkJobRow._meta.db_table)
    job_column = column(BulkJobRow, "job")
    columns = ", ".join(column(BulkJobRow, name) for name in COLUMNS)
    job_id = value(BulkJobRow, "job", job.pk)
    with connection.cursor() as cursor:
        # The rows of this job written from here on are this chunk's: the job's lock makes
        # its chunks take turns.
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        (last,) = cursor.fetchone()
        cursor.execute(
            f"INSERT INTO {table} ({columns}) "  # noqa: S608
            f"SELECT {placeholder(BulkJobRow, 'job')}, {placeholder(BulkJobRow, 'line')}, "
            "COALESCE(answers.upn, '#' || answers.user_id), "
            f"{placeholder(BulkJobRow, 'requested')}, COALESCE(answers.outcome, %s), "
            "CASE WHEN answers.upn IS NULL THEN %s ELSE answers.reason END "
            f"FROM ({sql}) AS answers ORDER BY answers.position",
            [
                job_id,
                None,
                requested[:32],
                BulkJobRow.Outcome.FAILED.value,
                no_such_user(),
                *params,
            ],
        )
        cursor.execute(
            f"SELECT outcome, COUNT(*) FROM {table} "  # noqa: S608
            f"WHERE {job_column} = %s AND id > %s GROUP BY outcome",
            [job_id, last],
        )
        return Counter(dict(cursor.fetchall()))
