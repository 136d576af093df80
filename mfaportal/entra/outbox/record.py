"""Recording changes for Graph, in the transaction of the action that made them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.chunks import chunked
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.models import OutboxChange

logger = logging.getLogger(__name__)

Status = OutboxChange.Status


def outbox_record(
    *,
    user_ids: Sequence[int],
    kind: str,
    payload: Callable[[int], dict[str, Any]],
    context: ChangeContext | None,
) -> list[int]:
    """Record one change per user in the caller's transaction; sending starts on commit.

    A pending change of the same kind for the same user is replaced (marked superseded):
    it has not reached Graph, and this one says what the admin wants now. What the older
    one knew about the state before (``previous``) carries over.
    """
    if not user_ids:
        return []
    now = timezone.now()
    actor = context.actor if context is not None else None
    actor_label = context.actor_label if context is not None else ""
    source = str(context.source) if context is not None else ""
    created_ids: list[int] = []
    with transaction.atomic():
        for chunk in chunked(user_ids):
            replaced = OutboxChange.objects.filter(
                user_id__in=chunk, kind=kind, status=Status.PENDING
            )
            carried: dict[int, Any] = {}
            for user_id, old_payload in replaced.values_list("user_id", "payload"):
                if isinstance(old_payload, dict) and "previous" in old_payload:
                    carried.setdefault(user_id, old_payload["previous"])
            replaced.update(
                status=Status.SUPERSEDED, done_at=now, last_error="replaced by a newer change"
            )
            changes = []
            for user_id, object_id, upn in DirectoryUser.objects.filter(pk__in=chunk).values_list(
                "pk", "object_id", "user_principal_name"
            ):
                data = payload(user_id)
                if user_id in carried and "previous" in data:
                    data["previous"] = carried[user_id]
                changes.append(
                    OutboxChange(
                        user_id=user_id,
                        object_id=object_id,
                        user_label=upn[:255],
                        kind=kind,
                        payload=data,
                        next_attempt_at=now,
                        created_at=now,
                        actor_id=actor.pk if actor is not None else None,
                        actor_label=actor_label[:255],
                        source=source,
                    )
                )
            created_ids += [change.pk for change in OutboxChange.objects.bulk_create(changes)]
        transaction.on_commit(partial(_enqueue_send, created_ids))
    return created_ids


def _enqueue_send(change_ids: list[int]) -> None:
    # Imported here: the tasks module imports the outbox.
    from mfaportal.entra.tasks import outbox_send

    try:
        outbox_send.enqueue(change_ids=change_ids)
    except Exception:
        # The rows are committed: `manage.py outbox_drain` (or the next drain task) sends
        # them. Losing the nudge must not turn into an error page for a saved change.
        logger.exception("could not enqueue outbox_send for %d changes", len(change_ids))
