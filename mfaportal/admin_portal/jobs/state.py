"""Enable, Enforce or Disable for the selected users (a quick step)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext

from mfaportal.admin_portal.jobs.base import Work
from mfaportal.admin_portal.models import BulkJob
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from mfaportal.mfa.services import mfa_state_set

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

    def work(self, job: BulkJob) -> list[Work]:
        return [Work(user_id) for user_id in job.user_ids]

    def prepare(self, job: BulkJob) -> bool:
        return False

    def apply(self, job: BulkJob, chunk: Sequence[Work], context: ChangeContext) -> Outcome:
        return mfa_state_set(
            users=DirectoryUser.objects.filter(pk__in=[work.user_id for work in chunk]),
            state=StateParams.of(job).state,
            context=context,
        )

    def notes(self, job: BulkJob) -> list[str]:
        return []

    def requested(self, job: BulkJob, work: Work) -> str:
        return str(StateParams.of(job).state.label)
