"""Bulk steps as jobs: created by a page, applied chunk by chunk, inline or in the background.

Every quick step and bulk update becomes a ``BulkJob`` so each one leaves the same record:
per-user outcomes for the *Updates successful* dialog and a downloadable results CSV. Small
selections run inside the request; larger ones run as a django-tasks task while the page
shows a progress bar. The rules themselves stay in ``mfaportal.mfa``.

- ``base``: what a kind of job provides; ``state``, ``user_settings``, ``bulk_update``: the
  kinds, each with its typed parameters; ``kinds``: the registry;
- ``runner``: creating, starting, applying and resuming jobs;
- ``rows``: a set-based chunk's result rows, written by the database;
- ``results``: the results CSV.
"""

from mfaportal.admin_portal.jobs.kinds import job_kind
from mfaportal.admin_portal.jobs.results import (
    PROBLEM_OUTCOMES,
    RESULT_COLUMNS,
    job_results_csv_lines,
)
from mfaportal.admin_portal.jobs.runner import (
    INLINE_LIMIT,
    bulk_update_job_create,
    job_enqueue,
    job_is_stalled,
    job_run,
    job_start,
    state_job_create,
    user_settings_job_create,
)
from mfaportal.admin_portal.jobs.user_settings import UserSettingsParams, user_settings_notes

__all__ = [
    "INLINE_LIMIT",
    "PROBLEM_OUTCOMES",
    "RESULT_COLUMNS",
    "UserSettingsParams",
    "bulk_update_job_create",
    "job_enqueue",
    "job_is_stalled",
    "job_kind",
    "job_results_csv_lines",
    "job_run",
    "job_start",
    "state_job_create",
    "user_settings_job_create",
    "user_settings_notes",
]
