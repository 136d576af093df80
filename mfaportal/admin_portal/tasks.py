"""Background tasks of the admin page (django-tasks: ``db_worker`` runs them)."""

from __future__ import annotations

import uuid

from django_tasks import task

from mfaportal.admin_portal.jobs import job_run


@task()
def bulk_job_run(job_id: str) -> None:
    """Apply a bulk job. Safe to run again: it resumes after the last finished chunk."""
    job_run(uuid.UUID(job_id))
