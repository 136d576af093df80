"""Bulk steps as jobs: created by a page, applied chunk by chunk, inline or in the background.

Every quick step and bulk update becomes a ``BulkJob`` so each one leaves the same record:
per-user outcomes for the *Updates successful* dialog and a downloadable results CSV. Small
selections run inside the request; larger ones run as a django-tasks task while the page
shows a progress bar. The rules themselves stay in ``mfaportal.mfa.services``.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.admin_portal.models import BulkJob, BulkJobRow, BulkUpload
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.reports import csv_safe
from mfaportal.mfa.services import BulkOutcome, mfa_state_set, user_settings_manage

logger = logging.getLogger(__name__)

# Selections up to this size are applied within the request; larger ones in the background.
INLINE_LIMIT = 300
CHUNK = 1000
# A job that has not moved for this long was interrupted (a worker restart) and may resume.
STALLED_AFTER = timedelta(minutes=5)

STEP_STATES = {
    "enable": MfaState.ENABLED,
    "enforce": MfaState.ENFORCED,
    "disable": MfaState.DISABLED,
}
USER_SETTINGS_OPTIONS = (
    "require_reregistration",
    "delete_app_passwords",
    "restore_remembered_devices",
)


def state_job_create(
    *,
    step: str,
    user_ids: Sequence[int],
    actor: DirectoryUser,
    ip_address: str | None,
) -> BulkJob:
    return BulkJob.objects.create(
        kind=BulkJob.Kind.STATE,
        created_by=actor,
        ip_address=ip_address,
        params={"state": int(STEP_STATES[step])},
        user_ids=list(user_ids),
        total=len(user_ids),
    )


def user_settings_job_create(
    *,
    options: dict[str, bool],
    user_ids: Sequence[int],
    actor: DirectoryUser,
    ip_address: str | None,
) -> BulkJob:
    return BulkJob.objects.create(
        kind=BulkJob.Kind.USER_SETTINGS,
        created_by=actor,
        ip_address=ip_address,
        params={name: bool(options.get(name)) for name in USER_SETTINGS_OPTIONS},
        user_ids=list(user_ids),
        total=len(user_ids),
    )


def bulk_update_job_create(
    *, upload: BulkUpload, actor: DirectoryUser, ip_address: str | None
) -> BulkJob:
    """The job that applies a verified file. Its lines that failed verification are recorded
    at once, so the results CSV accounts for every line of the file."""
    with transaction.atomic():
        job = BulkJob.objects.create(
            kind=BulkJob.Kind.BULK_UPDATE,
            created_by=actor,
            ip_address=ip_address,
            params={"file_name": upload.file_name},
            upload=upload,
            total=len(upload.rows),
            failed=0,
        )
        BulkJobRow.objects.bulk_create(
            [
                BulkJobRow(
                    job=job,
                    line=line,
                    user_principal_name=username[:255],
                    outcome=BulkJobRow.Outcome.INVALID,
                    reason=reason[:255],
                )
                for line, username, reason in upload.errors
            ],
            batch_size=1000,
        )
    return job


def job_start(job: BulkJob) -> bool:
    """Run a small job now, or queue a large one once the job row is committed.

    Returns True when the job has finished by the time this returns.
    """
    if job.kind != BulkJob.Kind.BULK_UPDATE and job.total <= INLINE_LIMIT:
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


@dataclass(frozen=True)
class _Work:
    """One unit of a job: a user, and for a bulk update the file line and wanted state."""

    user_id: int
    line: int | None = None
    username: str = ""
    state: int | None = None


def _work_list(job: BulkJob) -> list[_Work]:
    if job.kind == BulkJob.Kind.BULK_UPDATE:
        rows = job.upload.rows if job.upload is not None else []
        # Grouped by wanted state (one service call per state per chunk), then file order.
        ordered = sorted(rows, key=lambda row: (row[2], row[0]))
        return [_Work(user_id, line, username, state) for line, username, state, user_id in ordered]
    return [_Work(user_id) for user_id in job.user_ids]


def _context(job: BulkJob) -> ChangeContext:
    source = AuditSource.CSV if job.kind == BulkJob.Kind.BULK_UPDATE else AuditSource.PAGE
    return ChangeContext(actor=job.created_by, source=source, ip_address=job.ip_address)


def _apply(job: BulkJob, chunk: list[_Work], context: ChangeContext) -> BulkOutcome:
    ids = [work.user_id for work in chunk]
    if job.kind == BulkJob.Kind.STATE:
        return mfa_state_set(
            users=DirectoryUser.objects.filter(pk__in=ids),
            state=MfaState(job.params["state"]),
            context=context,
        )
    if job.kind == BulkJob.Kind.USER_SETTINGS:
        return user_settings_manage(
            users=DirectoryUser.objects.filter(pk__in=ids),
            require_reregistration=bool(job.params.get("require_reregistration")),
            delete_app_passwords=bool(job.params.get("delete_app_passwords")),
            restore_remembered_devices=bool(job.params.get("restore_remembered_devices")),
            context=context,
        )
    by_state: dict[int, list[int]] = defaultdict(list)
    for work in chunk:
        if work.state is not None:
            by_state[work.state].append(work.user_id)
    outcome = BulkOutcome()
    for state, state_ids in by_state.items():
        outcome.merge(
            mfa_state_set(
                users=DirectoryUser.objects.filter(pk__in=state_ids),
                state=MfaState(state),
                context=context,
            )
        )
    return outcome


def _requested(job: BulkJob, work: _Work) -> str:
    if work.state is not None:
        return str(MfaState(work.state).label)
    if job.kind == BulkJob.Kind.STATE:
        return str(MfaState(job.params["state"]).label)
    return ", ".join(name for name in USER_SETTINGS_OPTIONS if job.params.get(name))


def _rows_for(
    job: BulkJob, chunk: list[_Work], outcome: BulkOutcome | None, error: str
) -> list[BulkJobRow]:
    """One result row per unit of work, in the chunk's order."""
    upns = dict(
        DirectoryUser.objects.filter(pk__in=[work.user_id for work in chunk]).values_list(
            "id", "user_principal_name"
        )
    )
    results: dict[str, tuple[str, str]] = {}
    kind: str
    if outcome is not None:
        for kind, items in (
            (BulkJobRow.Outcome.CHANGED, outcome.changed),
            (BulkJobRow.Outcome.UNCHANGED, outcome.unchanged),
            (BulkJobRow.Outcome.SKIPPED, outcome.skipped),
        ):
            for item in items:
                results[item.user_principal_name.lower()] = (kind, item.reason)
    rows = []
    for work in chunk:
        upn = upns.get(work.user_id)
        if upn is None:
            kind, reason = BulkJobRow.Outcome.FAILED, _("The user no longer exists.")
        elif outcome is None:
            kind, reason = BulkJobRow.Outcome.FAILED, error
        else:
            kind, reason = results.get(
                upn.lower(), (BulkJobRow.Outcome.FAILED, _("The update did not reach this user."))
            )
        rows.append(
            BulkJobRow(
                job=job,
                line=work.line,
                user_principal_name=(upn or work.username or f"#{work.user_id}")[:255],
                requested=_requested(job, work)[:32],
                outcome=kind,
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
    work = _work_list(job)
    context = _context(job)
    try:
        while _run_chunk(job, work, context):
            if progress is not None:
                progress(job)
    except Exception as error:
        logger.exception("bulk job %s failed", job.pk)
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkJob.Status.FAILED,
            finished_at=timezone.now(),
            error=_("The update stopped: %(error)s") % {"error": str(error)[:500]},
        )


def _run_chunk(job: BulkJob, work: list[_Work], context: ChangeContext) -> bool:
    """Apply the next chunk; False when there was nothing left to do."""
    with transaction.atomic():
        # The lock makes a resumed job and a late worker take turns, never the same chunk.
        fresh = BulkJob.objects.select_for_update().get(pk=job.pk)
        if fresh.finished:
            return False
        chunk = work[fresh.done : fresh.done + CHUNK]
        if not chunk:
            BulkJob.objects.filter(pk=job.pk).update(
                status=BulkJob.Status.SUCCEEDED, finished_at=timezone.now()
            )
            return False
        error = ""
        outcome: BulkOutcome | None
        try:
            with transaction.atomic():
                outcome = _apply(job, chunk, context)
        except Exception as exc:
            # The chunk's changes were rolled back as one; its users are reported as failed
            # and the job goes on with the next chunk.
            logger.exception("bulk job %s: a chunk failed", job.pk)
            outcome, error = None, _("Not updated: %(error)s") % {"error": str(exc)[:200]}
        rows = _rows_for(job, chunk, outcome, error)
        BulkJobRow.objects.bulk_create(rows, batch_size=1000)
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            counts[row.outcome] += 1
        BulkJob.objects.filter(pk=job.pk).update(
            done=F("done") + len(chunk),
            changed=F("changed") + counts[BulkJobRow.Outcome.CHANGED],
            unchanged=F("unchanged") + counts[BulkJobRow.Outcome.UNCHANGED],
            skipped=F("skipped") + counts[BulkJobRow.Outcome.SKIPPED],
            failed=F("failed") + counts[BulkJobRow.Outcome.FAILED],
            heartbeat_at=timezone.now(),
        )
    return True


# --- reading results --------------------------------------------------------------------------

PROBLEM_OUTCOMES = (
    BulkJobRow.Outcome.SKIPPED,
    BulkJobRow.Outcome.FAILED,
    BulkJobRow.Outcome.INVALID,
)
RESULT_COLUMNS = ["Line", "Username", "Requested", "Result", "Detail"]


def job_results_csv_lines(job: BulkJob) -> Iterator[str]:
    """Every row's outcome as CSV, streamed (a 100k-user job never sits in memory)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(RESULT_COLUMNS)
    yield flush()
    rows = BulkJobRow.objects.filter(job=job).order_by("line", "id")
    for row in rows.values_list(
        "line", "user_principal_name", "requested", "outcome", "reason"
    ).iterator(chunk_size=2000):
        line, upn, requested, outcome, reason = row
        writer.writerow(
            [
                "" if line is None else line,
                csv_safe(upn),
                csv_safe(requested),
                BulkJobRow.Outcome(outcome).label,
                csv_safe(reason),
            ]
        )
        yield flush()
