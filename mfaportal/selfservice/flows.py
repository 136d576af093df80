"""Flow state in the database: start, read, move on, end (see ``models.Flow``).

Every move is ``UPDATE ... WHERE id = ? AND version = ?``: of two requests that read the
same step, the first to write moves the flow and the other gets ``None``, re-reads, and goes
wherever the flow now stands. The session keeps one id per kind of flow, written when a
flow starts and never again while it runs, so concurrent requests have nothing there to
overwrite.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from mfaportal.core.prepared import Prepared, prepared_rows
from mfaportal.directory.models import DirectoryUser
from mfaportal.selfservice.models import Flow

Kind = Flow.Kind
# Rows of flows nobody finished are deleted this long after they expired.
KEEP_EXPIRED = timedelta(hours=1)


@dataclass(frozen=True)
class FlowState:
    """One flow as read: change it only through ``flow_advance``."""

    id: uuid.UUID
    kind: str
    user_id: int | None
    stage: str
    version: int
    data: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def _session_key(kind: str) -> str:
    return f"flow:{kind}"


def _state(row: Flow) -> FlowState:
    return FlowState(
        id=row.id,
        kind=row.kind,
        user_id=row.user_id,
        stage=row.stage,
        version=row.version,
        data=dict(row.data or {}),
        created_at=row.created_at,
    )


def flow_start(
    request: HttpRequest,
    *,
    kind: str,
    user: DirectoryUser | None,
    ttl: timedelta,
    stage: str = "",
    data: Mapping[str, Any] | None = None,
) -> FlowState:
    """A new flow of this kind for this browser; any earlier one of the kind ends."""
    now = timezone.now()
    Flow.objects.filter(expires_at__lt=now - KEEP_EXPIRED).delete()
    earlier = _uuid(request.session.get(_session_key(kind), ""))
    if earlier is not None:
        Flow.objects.filter(pk=earlier, kind=kind).delete()
    row = Flow.objects.create(
        kind=kind,
        user=user,
        stage=stage,
        data=dict(data or {}),
        created_at=now,
        expires_at=now + ttl,
    )
    request.session[_session_key(kind)] = str(row.id)
    return _state(row)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# A flow read with ``hand_on`` (by a middleware), kept on the request for the next read of
# the same flow (the view's), which takes it instead of reading the row again: the sign-in
# pages read it twice per request before issue 15. Handed on once only, and only while the
# session still names that flow, so a read after a change in this request reads the row.
_HANDED_ON = "_mfaportal_flows_handed_on"


def flow_current(request: HttpRequest, kind: str, *, hand_on: bool = False) -> FlowState | None:
    """This browser's flow of this kind, if one is under way and has not expired."""
    flow_id = _uuid(request.session.get(_session_key(kind), ""))
    if flow_id is None:
        return None
    handed: dict[str, tuple[uuid.UUID, FlowState | None]] = request.__dict__.setdefault(
        _HANDED_ON, {}
    )
    kept = handed.pop(kind, None)
    if kept is not None and kept[0] == flow_id:
        return kept[1]
    rows = prepared_rows(_CURRENT, Flow, (flow_id, kind, timezone.now()))
    state = _state(rows[0]) if rows else None
    if hand_on:
        handed[kind] = (flow_id, state)
    return state


# Read on most requests of a flow's pages: compiled once per database (core.prepared).
_CURRENT = Prepared(
    lambda pk, kind, now: Flow.objects.filter(pk=pk, kind=kind, expires_at__gt=now),
    (
        uuid.UUID("00000000-0000-4000-8000-00000badcafe"),
        "stand-in kind " + "k" * 32,
        datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC),
    ),
)


def flow_reread(flow: FlowState) -> FlowState | None:
    row = Flow.objects.filter(pk=flow.id, expires_at__gt=timezone.now()).first()
    return _state(row) if row is not None else None


def flow_advance(
    flow: FlowState, *, stage: str | None = None, drop: tuple[str, ...] = (), **changes: Any
) -> FlowState | None:
    """Move the flow on from the version it was read at: a new stage and/or changed data
    (``drop`` removes keys). None when another request moved it first."""
    data = {key: value for key, value in flow.data.items() if key not in drop}
    data.update(changes)
    new_stage = flow.stage if stage is None else stage
    moved = Flow.objects.filter(
        pk=flow.id, version=flow.version, expires_at__gt=timezone.now()
    ).update(stage=new_stage, data=data, version=F("version") + 1)
    if not moved:
        return None
    return FlowState(
        id=flow.id,
        kind=flow.kind,
        user_id=flow.user_id,
        stage=new_stage,
        version=flow.version + 1,
        data=data,
        created_at=flow.created_at,
    )


class FlowMoved(Exception):
    """Another request moved the flow after this one read it. Raised inside the transaction
    that acted on what was read, so that what it did (a code taken, methods saved) is undone
    with it; the person is then sent where the flow now stands."""


def flow_move(
    flow: FlowState, *, stage: str | None = None, drop: tuple[str, ...] = (), **changes: Any
) -> FlowState:
    """``flow_advance``, or ``FlowMoved``."""
    moved = flow_advance(flow, stage=stage, drop=drop, **changes)
    if moved is None:
        raise FlowMoved
    return moved


def flow_end(request: HttpRequest, flow: FlowState | None, *, kind: str | None = None) -> bool:
    """Finish the flow: the row goes, and the session forgets it. True when this request
    is the one that ended it (of two racing to finish, only one is; the other's session
    keeps pointing at the flow, wherever it now stands)."""
    kind = kind or (flow.kind if flow is not None else "")
    if flow is None:
        if kind:
            request.session.pop(_session_key(kind), None)
        return False
    deleted, _rows = Flow.objects.filter(pk=flow.id, version=flow.version).delete()
    if deleted or not Flow.objects.filter(pk=flow.id).exists():
        request.session.pop(_session_key(flow.kind), None)
    return bool(deleted)


def flow_close(request: HttpRequest, flow: FlowState) -> None:
    """``flow_end``, or ``FlowMoved``."""
    if not flow_end(request, flow):
        raise FlowMoved


def flow_forget(request: HttpRequest, kind: str) -> None:
    """End this browser's flow of the kind, whatever step it stands at."""
    flow_id = _uuid(request.session.pop(_session_key(kind), ""))
    if flow_id is not None:
        Flow.objects.filter(pk=flow_id, kind=kind).delete()
