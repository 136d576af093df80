"""Sending each kind of change to Graph: one sender per ``OutboxChange.Kind``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

from mfaportal.entra.mapping import DELETABLE_COLLECTIONS
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox.answers import Answers, is_definitive
from mfaportal.graph import BatchRequest, GraphClient, GraphError, GraphNotFound, PerUserResult

Kind = OutboxChange.Kind


def _per_user_answers(
    client: GraphClient,
    changes: list[OutboxChange],
    call: Callable[[list[str]], list[PerUserResult[Any]]],
    out: Answers,
) -> None:
    """Run a batched per-user call over the changes' users and sort the answers."""
    for chunk, answer in client.each_batch(
        changes, lambda part: call([str(change.object_id) for change in part])
    ):
        if isinstance(answer, BaseException):
            for change in chunk:
                out.add_error(change.pk, answer)
            continue
        for change, result in zip(chunk, answer, strict=True):
            if result.error is None:
                out.accepted.add(change.pk)
            else:
                out.add_error(change.pk, result.error)


def _requirements_set(
    client: GraphClient, state: str, user_ids: list[str]
) -> list[PerUserResult[None]]:
    return client.requirements_set_many([(user_id, state) for user_id in user_ids])


def _send_mfa_states(client: GraphClient, changes: list[OutboxChange], out: Answers) -> None:
    by_state: dict[str, list[OutboxChange]] = defaultdict(list)
    for change in changes:
        by_state[str(change.payload.get("state", ""))].append(change)
    for state, group in by_state.items():
        _per_user_answers(client, group, partial(_requirements_set, client, state), out)


def _send_methods_delete(client: GraphClient, changes: list[OutboxChange], out: Answers) -> None:
    """List each user's methods, then delete the phone, authenticator and OATH ones."""
    deletions: list[tuple[OutboxChange, str]] = []
    listed: list[OutboxChange] = []
    for chunk, answer in client.each_batch(
        changes, lambda part: client.auth_methods_list_many([str(c.object_id) for c in part])
    ):
        if isinstance(answer, BaseException):
            for change in chunk:
                out.add_error(change.pk, answer)
            continue
        for change, result in zip(chunk, answer, strict=True):
            if result.error is not None:
                out.add_error(change.pk, result.error)
                continue
            listed.append(change)
            user = quote(str(change.object_id), safe="")
            for method in result.value or []:
                collection = DELETABLE_COLLECTIONS.get(method.kind)
                if collection:
                    path = f"/users/{user}/authentication/{collection}/{quote(method.id, safe='')}"
                    deletions.append((change, path))
    errors: dict[int, list[BaseException]] = defaultdict(list)
    for part, outcome in client.each_batch(
        deletions, lambda part: client.batch([BatchRequest("DELETE", path) for _c, path in part])
    ):
        if isinstance(outcome, BaseException):
            for change, _path in part:
                errors[change.pk].append(outcome)
            continue
        for (change, _path), deleted in zip(part, outcome, strict=True):
            # Gone already (an earlier attempt, or someone else) is what we wanted.
            if deleted.error is not None and not isinstance(deleted.error, GraphNotFound):
                errors[change.pk].append(deleted.error)
    for change in listed:
        problems = errors.get(change.pk)
        if not problems:
            out.accepted.add(change.pk)
            continue
        definitive = [e for e in problems if isinstance(e, GraphError) and is_definitive(e)]
        out.add_error(change.pk, definitive[0] if definitive else problems[0])


def _send_sessions_revoke(client: GraphClient, changes: list[OutboxChange], out: Answers) -> None:
    _per_user_answers(client, changes, client.revoke_sign_in_sessions_many, out)


SENDERS: dict[str, Callable[[GraphClient, list[OutboxChange], Answers], None]] = {
    Kind.MFA_STATE: _send_mfa_states,
    Kind.METHODS_DELETE: _send_methods_delete,
    Kind.SESSIONS_REVOKE: _send_sessions_revoke,
}
