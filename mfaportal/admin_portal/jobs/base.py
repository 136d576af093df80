"""What every kind of bulk job provides, and the registry that finds a job's kind.

A kind reads its typed parameters from the job row, names the units of work, applies a
chunk of them through the mfa services, and words its own description, so the runner and
the pages never switch on ``BulkJob.kind`` (``kinds.job_kind`` finds a job's kind).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, overload

from django.utils.translation import gettext as _

from mfaportal.admin_portal.models import BulkJob
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.core.outcome import Outcome


class Work(NamedTuple):
    """One unit of a job: a user, and for a bulk update the file line and wanted state. (A
    named tuple: a job of 100k users builds one per user, and a tuple is built fastest.)"""

    user_id: int
    line: int | None = None
    username: str = ""
    state: int | None = None


class UserUnits(Sequence[Work]):
    """The units of a job that names only users, made as they are read: a 100k-user job
    keeps its list of ids, not 100k units, and a set-based chunk takes the ids as they are
    (``user_ids_of``)."""

    def __init__(self, user_ids: Sequence[int]) -> None:
        self.user_ids = user_ids

    def __len__(self) -> int:
        return len(self.user_ids)

    @overload
    def __getitem__(self, index: int) -> Work: ...

    @overload
    def __getitem__(self, index: slice) -> UserUnits: ...

    def __getitem__(self, index: int | slice) -> Work | UserUnits:
        if isinstance(index, slice):
            return UserUnits(self.user_ids[index])
        return Work(self.user_ids[index])


def user_ids_of(chunk: Sequence[Work]) -> list[int]:
    """The users of a chunk of units."""
    if isinstance(chunk, UserUnits):
        return list(chunk.user_ids)
    return [work.user_id for work in chunk]


@dataclass(frozen=True)
class RowsWritten:
    """A chunk applied by statements that wrote its result rows too: how many of each
    ``BulkJobRow.Outcome``."""

    counts: Counter[str]


def no_such_user() -> str:
    """The result of a unit whose user was deleted after the job was asked for."""
    return _("The user no longer exists.")


class JobKind(Protocol):
    kind: str
    # How its changes are audited: a page's quick step, or a CSV file.
    source: AuditSource
    # Small jobs of this kind may run inside the request that asked for them.
    may_run_inline: bool

    def describe(self, job: BulkJob, users: str) -> str:
        """What the job does, in the reader's language (``users``: "12 users")."""
        ...

    def work(self, job: BulkJob) -> Sequence[Work]: ...

    def prepare(self, job: BulkJob) -> bool:
        """One short step of what must be recorded before the units are applied (a file's
        invalid lines, copied into the results), within the caller's transaction; False
        when nothing is left to prepare. It must resume where an interrupted run stopped."""
        ...

    def set_based(self, job: BulkJob) -> bool:
        """Whether ``apply`` is a few statements whatever the chunk's size (it answers
        ``RowsWritten``), so the job may take larger chunks without holding the database
        longer."""
        ...

    def apply(
        self, job: BulkJob, chunk: Sequence[Work], context: ChangeContext
    ) -> Outcome | RowsWritten:
        """Apply a chunk within the caller's transaction: an ``Outcome`` per user for the
        runner to write as result rows, or ``RowsWritten`` when the kind wrote them."""
        ...

    def requested(self, job: BulkJob, work: Work) -> str:
        """What was asked for this unit, as the results CSV shows it."""
        ...

    def notes(self, job: BulkJob) -> list[str]:
        """What the result should say of how the directory carried the job out (a part kept
        in this portal only, say), in the reader's language."""
        ...
