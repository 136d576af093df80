"""Graph mode: the Directory that writes through to Microsoft Graph.

An admin action never calls Graph inside the request. The service's transaction records one
``OutboxChange`` per user (``mfaportal.entra.outbox``) next to the audit entries, and
``transaction.on_commit`` enqueues the task that sends them; a worker retries until Graph
accepts or definitively refuses. So a change is never lost to a crash, a timeout or a 429,
and the page answers at once, showing the change as pending until Graph has it.

What the cache shows meanwhile (``mfa`` records it; the outbox hands Graph's answers back to
``mfaportal.mfa.services.reconcile``):

- MFA state: the state asked for (the outbox row marks it pending); once Graph accepts, the
  cache takes Graph's answer, and if Graph refuses, the state before again.
- Methods: kept until Graph has deleted them, then removed.
- Sessions and remembered devices: the portal's own sessions and remembered devices end at
  once (they live here); Graph's sign-in sessions are revoked through the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from mfaportal.core.audit import ChangeContext
from mfaportal.directory.interface import Delivery
from mfaportal.directory.services import sessions_end
from mfaportal.entra.mapping import state_to_graph
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox import outbox_record
from mfaportal.mfa.models import MfaState


class GraphDirectory:
    name = "graph"

    def mfa_states_write(
        self,
        *,
        user_ids: Sequence[int],
        state: int,
        previous: Mapping[int, int],
        context: ChangeContext | None = None,
    ) -> Delivery:
        graph_state = state_to_graph(state)
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.MFA_STATE,
            payload=lambda user_id: {
                "state": graph_state,
                "previous": state_to_graph(previous.get(user_id, MfaState.DISABLED)),
            },
            context=context,
        )
        return Delivery.QUEUED

    def methods_delete(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.METHODS_DELETE,
            payload=lambda _user_id: {},
            context=context,
        )
        return Delivery.QUEUED

    def remembered_devices_restore(
        self, *, user_ids: Sequence[int], at: datetime, context: ChangeContext | None = None
    ) -> Delivery:
        # In Entra ID, revoking the sign-in sessions is what makes remembered MFA devices
        # ask again (the portal's own remembered devices are ended by the mfa service).
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.SESSIONS_REVOKE,
            payload=lambda _user_id: {"reason": "remembered_devices_restore"},
            context=context,
        )
        return Delivery.QUEUED

    def sessions_revoke(
        self, *, user_ids: Sequence[int], context: ChangeContext | None = None
    ) -> Delivery:
        sessions_end(user_ids=user_ids)
        outbox_record(
            user_ids=user_ids,
            kind=OutboxChange.Kind.SESSIONS_REVOKE,
            payload=lambda _user_id: {"reason": "sessions_revoke"},
            context=context,
        )
        return Delivery.QUEUED
