"""Applying a verified bulk update file: each line's user to the line's state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from mfaportal.admin_portal.jobs.base import Work
from mfaportal.admin_portal.models import BulkJob
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import mfa_state_set


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
