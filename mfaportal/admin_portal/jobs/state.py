"""Enable, Enforce or Disable for the selected users (a quick step)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext

from mfaportal.admin_portal.jobs.base import RowsWritten, UserUnits, Work, user_ids_of
from mfaportal.admin_portal.jobs.rows import job_rows_record
from mfaportal.admin_portal.models import BulkJob
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.directory.interface import get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import mfa_state_set
from mfaportal.mfa.services.state import StateChanges, mfa_state_set_in_database

STEP_STATES = {
    "enable": MfaState.ENABLED,
    "enforce": MfaState.ENFORCED,
    "disable": MfaState.DISABLED,
}


@dataclass(frozen=True)
class StateParams:
    state: MfaState

    @classmethod
    def of(cls, job: BulkJob) -> StateParams:
        return cls(state=MfaState(job.params["state"]))

    def as_json(self) -> dict[str, int]:
        return {"state": int(self.state)}


class StateJob:
    kind: str = BulkJob.Kind.STATE
    source: AuditSource = AuditSource.PAGE
    may_run_inline = True

    def describe(self, job: BulkJob, users: str) -> str:
        return {
            MfaState.ENABLED: gettext("Enable multi-factor auth for %(users)s"),
            MfaState.ENFORCED: gettext("Enforce multi-factor auth for %(users)s"),
            MfaState.DISABLED: gettext("Disable multi-factor auth for %(users)s"),
        }[StateParams.of(job).state] % {"users": users}

    def work(self, job: BulkJob) -> Sequence[Work]:
        return UserUnits(job.user_ids)

    def prepare(self, job: BulkJob) -> bool:
        return False

    def set_based(self, job: BulkJob) -> bool:
        """In local mode the database applies a chunk (issue 15); in graph mode each change
        goes through the outbox, user by user, with the state it replaces."""
        return not get_directory().sends_changes

    def apply(
        self, job: BulkJob, chunk: Sequence[Work], context: ChangeContext
    ) -> Outcome | RowsWritten:
        state = StateParams.of(job).state
        user_ids = user_ids_of(chunk)
        if not self.set_based(job):
            return mfa_state_set(
                users=DirectoryUser.objects.filter(pk__in=user_ids), state=state, context=context
            )
        counts: Counter[str] = Counter()

        def record(changes: StateChanges) -> None:
            counts.update(
                job_rows_record(
                    job, sql=changes.sql, params=changes.params, requested=str(state.label)
                )
            )

        mfa_state_set_in_database(user_ids=user_ids, state=state, context=context, record=record)
        return RowsWritten(counts)

    def notes(self, job: BulkJob) -> list[str]:
        return []

    def requested(self, job: BulkJob, work: Work) -> str:
        return str(StateParams.of(job).state.label)
