"""Every kind of bulk job, by ``BulkJob.kind``."""

from __future__ import annotations

from mfaportal.admin_portal.jobs.base import JobKind
from mfaportal.admin_portal.jobs.bulk_update import BulkUpdateJob
from mfaportal.admin_portal.jobs.state import StateJob
from mfaportal.admin_portal.jobs.user_settings import UserSettingsJob
from mfaportal.admin_portal.models import BulkJob

KINDS: dict[str, JobKind] = {
    BulkJob.Kind.STATE: StateJob(),
    BulkJob.Kind.USER_SETTINGS: UserSettingsJob(),
    BulkJob.Kind.BULK_UPDATE: BulkUpdateJob(),
}


def job_kind(job: BulkJob) -> JobKind:
    return KINDS[job.kind]
