"""Reading a job's results: the per-row outcomes as a downloadable CSV."""

from __future__ import annotations

from collections.abc import Iterator

from mfaportal.admin_portal.models import BulkJob, BulkJobRow
from mfaportal.core.csv_export import csv_lines, csv_safe

PROBLEM_OUTCOMES = (
    BulkJobRow.Outcome.SKIPPED,
    BulkJobRow.Outcome.FAILED,
    BulkJobRow.Outcome.INVALID,
)
RESULT_COLUMNS = ["Line", "Username", "Requested", "Result", "Detail"]


def job_results_csv_lines(job: BulkJob) -> Iterator[str]:
    """Every row's outcome as CSV, streamed (a 100k-user job never sits in memory)."""
    rows = BulkJobRow.objects.filter(job=job).order_by("line", "id")
    return csv_lines(
        RESULT_COLUMNS,
        (
            [
                "" if line is None else line,
                csv_safe(upn),
                csv_safe(requested),
                BulkJobRow.Outcome(outcome).label,
                csv_safe(reason),
            ]
            for line, upn, requested, outcome, reason in rows.values_list(
                "line", "user_principal_name", "requested", "outcome", "reason"
            ).iterator(chunk_size=2000)
        ),
    )
