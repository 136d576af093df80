"""Applying a verified bulk update file: each line's user to the line's state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from mfaportal.admin_portal.jobs.base import Work
from mfaportal.admin_portal.models import BulkJob, BulkJobRow, BulkUploadError
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import mfa_state_set

# Invalid lines copied into the results per transaction.
CHUNK = 1000


@dataclass(frozen=True)
class BulkUpdateParams:
    file_name: str = ""

    @classmethod
    def of(cls, job: BulkJob) -> BulkUpdateParams:
        return cls(file_name=str(job.params.get("file_name") or ""))

    def as_json(self) -> dict[str, str]:
        return {"file_name": self.file_name}


class BulkUpdateJob:
    kind: str = BulkJob.Kind.BULK_UPDATE
    source: AuditSource = AuditSource.CSV
    # A file is always applied in the background, whatever its size.
    may_run_inline = False

    def describe(self, job: BulkJob, users: str) -> str:
        rows = ngettext("%(count)s row", "%(count)s rows", job.total) % {
            "count": number_format(job.total, force_grouping=True)
        }
        return gettext("bulk update from %(file)s: %(rows)s") % {
            "file": BulkUpdateParams.of(job).file_name or gettext("a file"),
            "rows": rows,
        }

    def work(self, job: BulkJob) -> list[Work]:
        rows = job.upload.rows if job.upload is not None else []
        # Grouped by wanted state (one service call per state per chunk), then file order.
        ordered = sorted(rows, key=lambda row: (row[2], row[0]))
        return [Work(user_id, line, username, state) for line, username, state, user_id in ordered]

    def prepare(self, job: BulkJob) -> bool:
        """Copy the next chunk of the file's invalid lines into the results (keyset on the
        error id, kept on the job in the same transaction)."""
        if job.upload_id is None:
            return False
        errors = list(
            BulkUploadError.objects.filter(upload_id=job.upload_id, id__gt=job.invalid_copied_to)
            .order_by("id")
            .values_list("id", "line", "username", "reason")[:CHUNK]
        )
        if not errors:
            return False
        BulkJobRow.objects.bulk_create(
            [
                BulkJobRow(
                    job=job,
                    line=line,
                    user_principal_name=username[:255],
                    outcome=BulkJobRow.Outcome.INVALID,
                    reason=reason[:255],
                )
                for _id, line, username, reason in errors
            ]
        )
        BulkJob.objects.filter(pk=job.pk).update(
            invalid_copied_to=errors[-1][0], heartbeat_at=timezone.now()
        )
        return True

    def set_based(self, job: BulkJob) -> bool:
        return False

    def apply(self, job: BulkJob, chunk: Sequence[Work], context: ChangeContext) -> Outcome:
        by_state: dict[int, list[int]] = defaultdict(list)
        for work in chunk:
            if work.state is not None:
                by_state[work.state].append(work.user_id)
        outcome = Outcome()
        for state, ids in by_state.items():
            outcome.merge(
                mfa_state_set(
                    users=DirectoryUser.objects.filter(pk__in=ids),
                    state=MfaState(state),
                    context=context,
                )
            )
        return outcome

    def notes(self, job: BulkJob) -> list[str]:
        return []

    def requested(self, job: BulkJob, work: Work) -> str:
        return str(MfaState(work.state).label) if work.state is not None else ""
