"""Graph mode: the Directory that writes through to Microsoft Graph.

An admin action never calls Graph inside the request. The service's transaction records one
``OutboxChange`` per user (``mfaportal.directory.outbox``) next to the audit entries, and
``transaction.on_commit`` enqueues the task that sends them; a worker retries until Graph
accepts or definitively refuses. So a change is never lost to a crash, a timeout or a 429,
and the page answers at once, showing the change as pending until Graph has it.

What the cache shows meanwhile:

- MFA state: the state asked for (the outbox row marks it pending); once Graph accepts, the
  cache takes Graph's answer (``enabled`` becomes ``enforced`` for a registered user), and if
  Graph refuses, Graph's current state again.
- Methods: kept until Graph has deleted them, then removed.
- Sessions and remembered devices: the portal's own sessions and remembered devices end at
  once (they live here); Graph's sign-in sessions are revoked through the outbox.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F
from django.utils import timezone

from mfaportal.directory.local import LocalDirectory
from mfaportal.directory.mapping import state_to_graph
from mfaportal.directory.models import DirectoryUser, OutboxChange
from mfaportal.directory.outbox import outbox_record
from mfaportal.mfa.models import MfaState, UserMfa

if TYPE_CHECKING:
    from mfaportal.core.audit import ChangeContext

CHUNK = 500  # stays under SQLite's bound-parameter limit


def _id_chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


class GraphDirectory:
    name = "graph"

    def mfa_states_write(
        self, *, user_ids: Sequence[int], state: int, context: ChangeContext | None = None
    ) -> None:
        graph_state = state_to_graph(state)
        now = timezone.now()
        previous: dict[int, int] = {}
        for chunk in _id_chunks(user_ids):
            previous.update(
                UserMfa.objects.filter(user_id__in=chunk).values_list("user_id", "state")
            )
            UserMfa.objects.filter(user_id__in=chunk).update(state=state, updated_at=now)
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.MFA_STATE,
            payload=lambda user_id: {
                "state": graph_state,
                "previous": state_to_graph(previous.get(user_id, MfaState.DISABLED)),
            },
            context=context,
        )

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> None:
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.METHODS_DELETE,
            payload=lambda _user_id: {},
            context=context,
        )

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> None:
        # The portal's own remembered devices end now; in Entra ID, revoking the sign-in
        # sessions is what makes remembered MFA devices ask again.
        LocalDirectory().remembered_devices_restore(user_ids=user_ids, at=at)
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.SESSIONS_REVOKE,
            payload=lambda _user_id: {"reason": "remembered_devices_restore"},
            context=context,
        )

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> None:
        for chunk in _id_chunks(user_ids):
            DirectoryUser.objects.filter(pk__in=chunk).update(
                session_version=F("session_version") + 1
            )
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.SESSIONS_REVOKE,
            payload=lambda _user_id: {"reason": "sessions_revoke"},
            context=context,
        )
