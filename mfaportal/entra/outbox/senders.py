"""Sending each kind of change to Graph: one sender per ``OutboxChange.Kind``."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from mfaportal.entra.mapping import (
    DEACTIVATABLE_COLLECTIONS,
    DELETABLE_COLLECTIONS,
    serves_default,
)
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox.answers import Answers
from mfaportal.graph import (
    AuthMethod,
    BatchRequest,
    BatchResult,
    GraphBadRequest,
    GraphClient,
    GraphError,
    GraphNotFound,
    PerUserResult,
)

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


@dataclass
class _Step:
    """One request of a user's re-registration, in the order Microsoft's rules need."""

    request: BatchRequest
    # signInPreferences and hardwareOathMethods are beta only; deletions go to v1.0.
    version: str = "v1.0"
    # A deletion Graph may refuse while other methods remain (the method may serve the
    # default, which Graph does not always let the portal read): sent again once, after the
    # user's other steps, as Microsoft's own script does.
    retry_last: bool = False
    retried: bool = False


@dataclass
class _Plan:
    change: OutboxChange
    steps: list[_Step] = field(default_factory=list)
    error: BaseException | None = None


# Phones in the order they may go: an alternateMobile before the mobile it depends on.
_PHONE_ORDER = {"alternateMobile": 0, "office": 1, "mobile": 2}


def _plan_steps(
    client: GraphClient, user_id: str, methods: list[AuthMethod], preference: str | None
) -> list[_Step]:
    """Microsoft's order for "Require re-register MFA" (MicrosoftDocs/entra-docs,
    howto-mfa-userdevicesettings.md: it "deactivates the user's hardware OATH tokens and
    deletes ... phone numbers, Microsoft Authenticator apps and software OATH tokens"):

    - hardware OATH tokens are deactivated (they stay assigned to the user);
    - one method at a time, the default last (Reset-EntraBetaStrongAuthenticationMethodByUpn:
      "default method can only be deleted when it is the only (last) auth method");
    - an alternateMobile before the mobile (phoneauthenticationmethod-delete.md: "A user
      can't have an alternateMobile number without a mobile number");
    - an alternateMobile that is the default while a mobile exists: the default moves to the
      mobile first, or neither phone could ever be deleted.
    """
    steps: list[_Step] = []
    phone_types = {m.phone_type for m in methods if m.kind == "phone"}
    if preference == "voiceAlternateMobile" and "mobile" in phone_types:
        steps.append(
            _Step(
                BatchRequest(
                    "PATCH",
                    client.sign_in_preferences_path(user_id),
                    body={"userPreferredMethodForSecondaryAuthentication": "voiceMobile"},
                ),
                version="beta",
            )
        )
        preference = "voiceMobile"
    for method in methods:
        collection = DEACTIVATABLE_COLLECTIONS.get(method.kind)
        if collection:
            path = client.method_path(user_id, collection, method.id) + "/deactivate"
            steps.append(_Step(BatchRequest("POST", path), version="beta"))
    deletable = [m for m in methods if m.kind in DELETABLE_COLLECTIONS]
    deletable.sort(
        key=lambda m: (
            serves_default(m, preference),
            _PHONE_ORDER.get(m.phone_type or "", 1) if m.kind == "phone" else 1,
        )
    )
    for method in deletable:
        path = client.method_path(user_id, DELETABLE_COLLECTIONS[method.kind], method.id)
        steps.append(_Step(BatchRequest("DELETE", path), retry_last=True))
    return steps


def _preferences(client: GraphClient, changes: list[OutboxChange]) -> dict[int, str | None]:
    """Each user's default method, where Graph tells (beta signInPreferences)."""
    found: dict[int, str | None] = {}
    for chunk, answer in client.each_batch(
        changes, lambda part: client.sign_in_preferences_get_many([str(c.object_id) for c in part])
    ):
        if isinstance(answer, BaseException):
            continue  # unknown: a refused deletion is tried again after the others
        for change, result in zip(chunk, answer, strict=True):
            if result.ok and result.value is not None:
                found[change.pk] = result.value.user_preferred_method_for_secondary_authentication
    return found


def _send_round(client: GraphClient, part: list[tuple[_Plan, _Step]]) -> list[BatchResult]:
    """One step of each user, in a v1.0 and (where needed) a beta ``$batch``."""
    results: dict[int, BatchResult] = {}
    for version in ("v1.0", "beta"):
        positions = [i for i, (_plan, step) in enumerate(part) if step.version == version]
        if positions:
            # Fresh requests: the client numbers them per batch, and a step may be sent twice.
            answers = client.batch(
                [replace(part[i][1].request, id="") for i in positions], version=version
            )
            results.update(zip(positions, answers, strict=True))
    return [results[i] for i in range(len(part))]


def _send_methods_delete(client: GraphClient, changes: list[OutboxChange], out: Answers) -> None:
    """Each user's methods, deleted one at a time in Microsoft's order (``_plan_steps``);
    users are handled side by side, a step of each in the same ``$batch`` round."""
    plans: list[_Plan] = []
    preferences = _preferences(client, changes)
    for chunk, answer in client.each_batch(
        changes,
        lambda part: client.auth_methods_list_many(
            [str(c.object_id) for c in part], version="beta"
        ),
    ):
        if isinstance(answer, BaseException):
            for change in chunk:
                out.add_error(change.pk, answer)
            continue
        for change, result in zip(chunk, answer, strict=True):
            if result.error is not None:
                out.add_error(change.pk, result.error)
                continue
            steps = _plan_steps(
                client, str(change.object_id), result.value or [], preferences.get(change.pk)
            )
            plans.append(_Plan(change, steps))
    active = [plan for plan in plans if plan.steps]
    while active:
        round_ = [(plan, plan.steps[0]) for plan in active]
        for part, outcome in client.each_batch(round_, partial(_send_round, client)):
            errors: list[BaseException | None] = (
                [outcome] * len(part)
                if isinstance(outcome, BaseException)
                else [sent.error for sent in outcome]
            )
            for (plan, step), error in zip(part, errors, strict=True):
                plan.steps.pop(0)
                # Gone already (an earlier attempt, or someone else) is what was wanted.
                if error is None or isinstance(error, GraphNotFound):
                    continue
                if (
                    step.retry_last
                    and not step.retried
                    and plan.steps
                    and isinstance(error, GraphBadRequest)
                ):
                    step.retried = True
                    plan.steps.append(step)
                    continue
                plan.error = error
                plan.steps.clear()
        active = [plan for plan in active if plan.steps]
    for plan in plans:
        if plan.error is None:
            out.accepted.add(plan.change.pk)
        else:
            out.add_error(plan.change.pk, plan.error)


def _send_passkeys_delete(client: GraphClient, changes: list[OutboxChange], out: Answers) -> None:
    """The user's fido2Methods of the names asked for, deleted (fido2authenticationmethod-
    list.md, -delete.md); one already gone is what was wanted."""
    for change in changes:
        names = set((change.payload or {}).get("names", []))
        user_id = str(change.object_id)
        try:
            for method in client.fido2_methods_list(user_id):
                if method.display_name in names:
                    with contextlib.suppress(GraphNotFound):
                        client.fido2_method_delete(user_id, method.id)
        except GraphError as error:
            out.add_error(change.pk, error)
        else:
            out.accepted.add(change.pk)


def _send_sessions_revoke(client: GraphClient, changes: list[OutboxChange], out: Answers) -> None:
    _per_user_answers(client, changes, client.revoke_sign_in_sessions_many, out)


SENDERS: dict[str, Callable[[GraphClient, list[OutboxChange], Answers], None]] = {
    Kind.MFA_STATE: _send_mfa_states,
    Kind.METHODS_DELETE: _send_methods_delete,
    Kind.SESSIONS_REVOKE: _send_sessions_revoke,
    Kind.PASSKEYS_DELETE: _send_passkeys_delete,
}
