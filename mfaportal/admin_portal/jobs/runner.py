"""Creating jobs and applying them: chunk by chunk, inline or in the background.

Each chunk is one transaction with its result rows and the job's new ``done``, so a job
interrupted by a restart resumes exactly where it stopped.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.admin_portal.jobs.base import RowsWritten, Work, no_such_user, user_ids_of
from mfaportal.admin_portal.jobs.bulk_update import BulkUpdateParams
from mfaportal.admin_portal.jobs.kinds import job_kind
from mfaportal.admin_portal.jobs.state import STEP_STATES, StateParams
from mfaportal.admin_portal.jobs.user_settings import UserSettingsParams
from mfaportal.admin_portal.models import BulkJob, BulkJobRow, BulkUpload
from mfaportal.core.audit import ChangeContext
from mfaportal.core.bulk_sql import bulk_insert
from mfaportal.core.outcome import Outcome
from mfaportal.directory.models import DirectoryUser

logger = logging.getLogger(__name__)

# Selections up to this size are applied within the request; larger ones in the background.
INLINE_LIMIT = 300
# Users per chunk (one transaction) of a job applied user by user ...
CHUNK = 1000
# ... and of one the database applies in a few statements (``JobKind.set_based``). Chosen by
# how long a chunk holds SQLite's write lock (docs/performance.md, issue 15): a set-based
# chunk of SET_BASED_CHUNK users holds it no longer than a user-by-user chunk of CHUNK did.
SET_BASED_CHUNK = 10_000
# A background job rests this long between chunks. SQLite keeps no queue of writers: a job
# that began its next transaction at once would keep a waiting sign-in waiting to the end.
PAUSE_BETWEEN_CHUNKS = 0.025
# A job that has not moved for this long was interrupted (a worker restart) and may resume.
STALLED_AFTER = timedelta(minutes=5)


# --- creating --------------------------------------------------------------------------------


def state_job_create(
    *, step: str, user_ids: Sequence[int], actor: DirectoryUser, ip_address: str | None
) -> BulkJob:
    return BulkJob.objects.create(
        kind=BulkJob.Kind.STATE,
        created_by=actor,
        ip_address=ip_address,
        params=StateParams(STEP_STATES[step]).as_json(),
        user_ids=list(user_ids),
        total=len(user_ids),
    )


def user_settings_job_create(
    *,
    options: UserSettingsParams,
    user_ids: Sequence[int],
    actor: DirectoryUser,
    ip_address: str | None,
) -> BulkJob:
    return BulkJob.objects.create(
        kind=BulkJob.Kind.USER_SETTINGS,
        created_by=actor,
        ip_address=ip_address,
        params=options.as_json(),
        user_ids=list(user_ids),
        total=len(user_ids),
    )


def bulk_update_job_create(
    *, upload: BulkUpload, actor: DirectoryUser, ip_address: str | None
) -> BulkJob:
    """The job that applies a verified file. Its lines that failed verification are copied
    into its results by the job itself, a chunk per transaction, before the rows are applied,
    so the results CSV accounts for every line of the file."""
    return BulkJob.objects.create(
        kind=BulkJob.Kind.BULK_UPDATE,
        created_by=actor,
        ip_address=ip_address,
        params=BulkUpdateParams(file_name=upload.file_name).as_json(),
        upload=upload,
        total=upload.row_count,
        failed=0,
    )


def job_start(job: BulkJob) -> bool:
    """Run a small job now, or queue a large one once the job row is committed.

    Returns True when the job has finished by the time this returns.
    """
    if job_kind(job).may_run_inline and job.total <= INLINE_LIMIT:
        job_run(job.pk)
        return True
    BulkJob.objects.filter(pk=job.pk).update(background=True)
    job.background = True
    job_enqueue(job)
    return False


def job_enqueue(job: BulkJob) -> None:
    from mfaportal.admin_portal.tasks import bulk_job_run

    transaction.on_commit(partial(bulk_job_run.enqueue, str(job.pk)))


def job_is_stalled(job: BulkJob) -> bool:
    if job.finished:
        return False
    last_sign_of_life = job.heartbeat_at or job.created_at
    return timezone.now() - last_sign_of_life > STALLED_AFTER


# --- running ----------------------------------------------------------------------------------


def apply_chunk(
    job: BulkJob, chunk: Sequence[Work], context: ChangeContext
) -> Outcome | RowsWritten:
    return job_kind(job).apply(job, chunk, context)


def _rows_for(
    job: BulkJob, chunk: Sequence[Work], outcome: Outcome | None, error: str
) -> list[BulkJobRow]:
    """One result row per unit of work, in the chunk's order."""
    kind = job_kind(job)
    upns = dict(
        DirectoryUser.objects.filter(pk__in=user_ids_of(chunk)).values_list(
            "id", "user_principal_name"
        )
    )
    results: dict[str, tuple[str, str]] = {}
    if outcome is not None:
        for verdict, items in (
            (BulkJobRow.Outcome.CHANGED, outcome.changed),
            (BulkJobRow.Outcome.UNCHANGED, outcome.unchanged),
            (BulkJobRow.Outcome.SKIPPED, outcome.skipped),
        ):
            for item in items:
                results[item.user_principal_name.lower()] = (verdict, item.reason)
    rows = []
    missed = (BulkJobRow.Outcome.FAILED, _("The update did not reach this user."))
    for work in chunk:
        upn = upns.get(work.user_id)
        answer: str
        if upn is None:
            answer, reason = BulkJobRow.Outcome.FAILED, no_such_user()
        elif outcome is None:
            answer, reason = BulkJobRow.Outcome.FAILED, error
        else:
            answer, reason = results.get(upn.lower(), missed)
        rows.append(
            BulkJobRow(
                job=job,
                line=work.line,
                user_principal_name=(upn or work.username or f"#{work.user_id}")[:255],
                requested=kind.requested(job, work)[:32],
                outcome=answer,
                reason=reason[:255],
            )
        )
    return rows


def job_run(job_id: uuid.UUID, *, progress: Callable[[BulkJob], None] | None = None) -> None:
    """Apply what is left of a job, one chunk per transaction, until it is done."""
    job = BulkJob.objects.select_related("created_by", "upload").get(pk=job_id)
    if job.finished:
        return
    BulkJob.objects.filter(pk=job.pk).update(
        status=BulkJob.Status.RUNNING,
        started_at=job.started_at or timezone.now(),
        heartbeat_at=timezone.now(),
    )
    kind = job_kind(job)
    work = kind.work(job)
    context = ChangeContext(actor=job.created_by, source=kind.source, ip_address=job.ip_address)
    pause = PAUSE_BETWEEN_CHUNKS if job.background else 0
    try:
        while _prepare_chunk(job):
            time.sleep(pause)
        while True:
            applied, more = _run_chunk(job, work, context)
            if applied and progress is not None:
                progress(job)
            if not more:
                break
            time.sleep(pause)
    except Exception as error:
        logger.exception("bulk job %s failed", job.pk)
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkJob.Status.FAILED,
            finished_at=timezone.now(),
            error=_("The update stopped: %(error)s") % {"error": str(error)[:500]},
        )


def _prepare_chunk(job: BulkJob) -> bool:
    """One short transaction of what the job records before its units; False when done."""
    with transaction.atomic():
        # Not the ids: a 100k-user job's list is read once, by ``job_run``.
        fresh = BulkJob.objects.select_for_update().defer("user_ids").get(pk=job.pk)
        if fresh.finished:
            return False
        return job_kind(fresh).prepare(fresh)


def _run_chunk(job: BulkJob, work: Sequence[Work], context: ChangeContext) -> tuple[bool, bool]:
    """Apply the next chunk: whether one was applied, and whether more are left (the last
    one finishes the job in its own transaction)."""
    kind = job_kind(job)
    with transaction.atomic():
        # The lock makes a resumed job and a late worker take turns, never the same chunk.
        fresh = BulkJob.objects.select_for_update().only("status", "done").get(pk=job.pk)
        if fresh.finished:
            return False, False
        size = SET_BASED_CHUNK if kind.set_based(job) else CHUNK
        chunk = work[fresh.done : fresh.done + size]
        finished = {"status": BulkJob.Status.SUCCEEDED, "finished_at": timezone.now()}
        if not chunk:
            BulkJob.objects.filter(pk=job.pk).update(**finished)
            return False, False
        error = ""
        applied: Outcome | RowsWritten | None
        try:
            with transaction.atomic():
                applied = apply_chunk(job, chunk, context)
        except Exception as exc:
            # The chunk's changes were rolled back as one; its users are reported as failed
            # and the job goes on with the next chunk.
            logger.exception("bulk job %s: a chunk failed", job.pk)
            applied, error = None, _("Not updated: %(error)s") % {"error": str(exc)[:200]}
        if isinstance(applied, RowsWritten):
            counts = applied.counts
        else:
            rows = _rows_for(job, chunk, applied, error)
            # As values, not model instances: the ORM's per-row cost was most of a 10k step.
            job_id = BulkJobRow._meta.get_field("job").get_db_prep_save(job.pk, connection)
            bulk_insert(
                BulkJobRow,
                fields=("job", "line", "user_principal_name", "requested", "outcome", "reason"),
                rows=[
                    (
                        job_id,
                        row.line,
                        row.user_principal_name,
                        row.requested,
                        row.outcome,
                        row.reason,
                    )
                    for row in rows
                ],
            )
            counts = Counter(row.outcome for row in rows)
        more = fresh.done + len(chunk) < len(work)
        BulkJob.objects.filter(pk=job.pk).update(
            done=F("done") + len(chunk),
            changed=F("changed") + counts[BulkJobRow.Outcome.CHANGED],
            unchanged=F("unchanged") + counts[BulkJobRow.Outcome.UNCHANGED],
            skipped=F("skipped") + counts[BulkJobRow.Outcome.SKIPPED],
            failed=F("failed") + counts[BulkJobRow.Outcome.FAILED],
            heartbeat_at=timezone.now(),
            **({} if more else finished),
        )
    return True, more
