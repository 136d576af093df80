"""Per-user MFA state: enable, enforce, disable, and the Enforced that registration brings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from mfaportal.core.audit import AUDIT_COLUMNS, AuditEntry, ChangeContext, audit_record_bulk
from mfaportal.core.bulk_sql import column, ids_in_order, placeholder, value
from mfaportal.core.chunks import chunked
from mfaportal.core.models import AuditEvent
from mfaportal.core.outcome import Outcome, UserResult
from mfaportal.directory.interface import Directory, get_directory
from mfaportal.directory.models import (
    DirectoryUser,
    holds_any_role,
    holds_role_beyond_authentication_administrator_reach,
)
from mfaportal.mfa import policy
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod
from mfaportal.mfa.services.targets import TargetRow, mfa_rows_ensure, target_rows


def mfa_states_record(user_ids: list[int], state: MfaState) -> None:
    """The cache shows ``state`` for these users (who all have a ``UserMfa`` row)."""
    now = timezone.now()
    for chunk in chunked(user_ids):
        UserMfa.objects.filter(user_id__in=chunk).update(state=state, updated_at=now)


def mfa_state_set(
    *,
    users: QuerySet[DirectoryUser],
    state: MfaState,
    context: ChangeContext,
    directory: Directory | None = None,
) -> Outcome:
    """Enable, enforce or disable multi-factor authentication for these users."""
    directory = directory or get_directory()
    actor = policy.Actor.of(context)
    outcome = Outcome()
    by_target: dict[MfaState, list[TargetRow]] = defaultdict(list)
    for row in target_rows(users):
        refusal = policy.may_change(actor, row.target, policy.Action.STATE) or policy.eligible(
            row.target, state
        )
        if refusal:
            outcome.skipped.append(UserResult(row.upn, refusal))
            continue
        target = policy.resulting_state(state, registered=row.registered)
        if target == row.state:
            outcome.unchanged.append(UserResult(row.upn))
            continue
        by_target[target].append(row)

    entries: list[AuditEntry] = []
    with transaction.atomic():
        for target, rows in by_target.items():
            ids = [row.id for row in rows]
            mfa_rows_ensure(ids)
            mfa_states_record(ids, target)
            directory.mfa_states_write(
                user_ids=ids,
                state=target,
                previous={row.id: int(row.state) for row in rows},
                context=context,
            )
            for row in rows:
                entries.append(
                    AuditEntry(
                        action="mfa.state",
                        target_id=row.id,
                        target_label=row.upn,
                        before=row.state.code,
                        after=target.code,
                    )
                )
                reason = _became(state, target)
                outcome.changed.append(UserResult(row.upn, reason))
        audit_record_bulk(context, entries)
    return outcome


def _became(requested: MfaState, result: MfaState) -> str:
    """What a changed user's result says when the change ended elsewhere than asked."""
    return _("Already registered, so Enabled became Enforced.") if result != requested else ""


# --- the same change, applied by the database ---------------------------------------------------


@dataclass(frozen=True)
class StateChanges:
    """A state change of a list of users as a query, the database's to answer: one row per
    user id asked, in the order asked, with the columns

    ``position`` (from 0), ``user_id``, ``upn`` (NULL: no such user), ``before_state``,
    ``after_state``, ``outcome`` (``changed``, ``unchanged`` or ``skipped``, as in
    ``core.outcome.Outcome``; NULL: no such user), ``reason`` (as ``mfa_state_set`` words it)
    and ``no_row`` (1: the user has no ``UserMfa`` row yet).
    """

    sql: str
    params: list[Any]


# How the database answers each trait the rules may ask about, for the user row
# ``directory_directoryuser`` (``is_actor``: that row's id is the actor's).
_TRAIT_EXPRESSIONS: dict[str, Callable[[], Any]] = {
    "holds_admin_role": holds_any_role,
    "beyond_authentication_administrator_reach": (
        holds_role_beyond_authentication_administrator_reach
    ),
    "is_licensed": lambda: F("is_licensed"),
    "registered": lambda: Exists(VerificationMethod.objects.filter(user=OuterRef("pk"))),
}


def _user_expression(expression: Any) -> tuple[str, list[Any]]:
    """An ORM expression over a user (an annotation), as SQL on the user table's row: the
    rules' own queries (``holds_any_role`` ...), not a copy of them."""
    query = DirectoryUser.objects.all().query
    resolved = expression.resolve_expression(query, allow_joins=False)
    sql, params = query.get_compiler(connection=connection).compile(resolved)
    return sql, list(params)


@dataclass(frozen=True)
class _Deciding:
    """How the kind of a user (``kind_of_user``: their traits that matter, as the bits of a
    number) decides their outcome, as SQL over a query of the users' traits."""

    refusals: str
    states: str
    refusal_params: list[Any]
    requested: int
    became: str

    def over(self, looked_up: str, params: list[Any], *, materialize: bool) -> StateChanges:
        """``looked_up``: a query of ``position``, ``user_id``, ``upn``, ``before_state``,
        ``kind_of_user`` and ``no_row``. Materialized when it asks subqueries: merged into
        the query below, they would be asked again for every mention of the kind of user."""
        source = (
            f"WITH looked_up AS MATERIALIZED ({looked_up}) SELECT * FROM looked_up"  # noqa: S608
            if materialize
            else looked_up
        )
        decided = (
            "SELECT looked_up.*, "  # noqa: S608
            f"CASE kind_of_user {self.refusals} END AS refusal, "
            f"CASE kind_of_user {self.states} END AS after_state "
            f"FROM ({source}) AS looked_up"
        )
        sql = (
            "SELECT position, user_id, upn, before_state, after_state, "  # noqa: S608
            "CASE WHEN upn IS NULL THEN NULL WHEN refusal <> '' THEN 'skipped' "
            "WHEN after_state = before_state THEN 'unchanged' ELSE 'changed' END AS outcome, "
            "CASE WHEN upn IS NULL THEN '' WHEN refusal <> '' THEN refusal "
            "WHEN after_state = before_state THEN '' "
            "WHEN after_state <> %s THEN %s ELSE '' END AS reason, no_row "
            f"FROM ({decided}) AS decided"
        )
        # In the order of the placeholders in the text.
        return StateChanges(
            sql=sql, params=[self.requested, self.became, *self.refusal_params, *params]
        )


def _state_lookup(
    *, user_ids: Sequence[int], state: MfaState, actor: policy.Actor
) -> tuple[str, list[Any], _Deciding]:
    """The query of each user's traits that matter, and how their kind decides."""
    table = policy.state_decisions(actor, state)
    mattering = policy.traits_that_matter(table)
    quote = connection.ops.quote_name
    users = quote(DirectoryUser._meta.db_table)
    mfa = quote(UserMfa._meta.db_table)
    mfa_user = column(UserMfa, "user")

    bits = []
    bit_params: list[Any] = []
    for bit, name in enumerate(mattering):
        if name == "is_actor":
            condition, params = f"{users}.id = %s", [actor.user_id]
        else:
            condition, params = _user_expression(_TRAIT_EXPRESSIONS[name]())
        bits.append(f"CASE WHEN {condition} THEN {1 << bit} ELSE 0 END")
        bit_params += params
    kind_of_user = " + ".join(bits) or "0"
    refusals, states = [], []
    refusal_params: list[Any] = []
    for number in range(1 << len(mattering)):
        traits = policy.Traits(
            **{name: bool(number >> bit & 1) for bit, name in enumerate(mattering)}
        )
        answer = table[traits]
        refusals.append(f"WHEN {number} THEN %s")
        refusal_params.append(str(answer.refusal))
        states.append(f"WHEN {number} THEN {int(answer.state)}")
    ids_sql, ids_params = ids_in_order(list(user_ids))
    # Identifiers from the models' metadata and numbers; every text is a parameter.
    looked_up = (
        "SELECT asked.position, asked.id AS user_id, "  # noqa: S608
        f"{users}.{quote('user_principal_name')} AS upn, "
        f"COALESCE(mfa.state, 0) AS before_state, ({kind_of_user}) AS kind_of_user, "
        f"CASE WHEN mfa.{mfa_user} IS NULL THEN 1 ELSE 0 END AS no_row "
        f"FROM ({ids_sql}) AS asked "
        f"LEFT JOIN {users} ON {users}.id = asked.id "
        f"LEFT JOIN {mfa} AS mfa ON mfa.{mfa_user} = asked.id"
    )
    deciding = _Deciding(
        refusals=" ".join(refusals),
        states=" ".join(states),
        refusal_params=refusal_params,
        requested=int(state),
        became=_became(MfaState.ENABLED, MfaState.ENFORCED),
    )
    return looked_up, [*bit_params, *ids_params], deciding


def state_changes(*, user_ids: Sequence[int], state: MfaState, actor: policy.Actor) -> StateChanges:
    """What setting ``state`` does to each of these users, as one query.

    The policy is asked once per combination of the traits it looks at
    (``policy.state_decisions``), not once per user; the query looks each user's traits up in
    that table with a ``CASE``, and asks the database only for the traits that change some
    answer (for a global administrator's Enable: the licence and whether the user
    registered)."""
    looked_up, params, deciding = _state_lookup(user_ids=user_ids, state=state, actor=actor)
    return deciding.over(looked_up, params, materialize=True)


def _state_codes(column: str) -> str:
    """A state column as the name records store (``MfaState.code``)."""
    whens = " ".join(f"WHEN {int(state)} THEN '{state.code}'" for state in MfaState)
    return f"CASE {column} {whens} END"


def _mfa_row_defaults(now: datetime) -> dict[str, Any]:
    """The values of a new ``UserMfa`` row but its user, as ``UserMfa(user_id=...)`` has them,
    ready for the database."""
    found = {}
    for field in UserMfa._meta.concrete_fields:
        if field.primary_key:
            continue
        given = now if field.name == "updated_at" else field.get_default()
        found[field.name] = value(UserMfa, field.name, given)
    return found


# Where a change's users wait, with their traits, while it is written: a temporary table
# of the connection.
_KEPT_TABLE = "mfa_state_changes"
_KEPT_COLUMNS = (
    "user_id bigint, upn text, before_state integer, kind_of_user integer, no_row integer"
)


def _changes_keep(
    cursor: Any, looked_up: str, params: list[Any], deciding: _Deciding
) -> StateChanges:
    """Read the users' traits once, into the connection's temporary table, and answer the
    change from there: each statement below reads the answers in a moment, and they stay as
    they were before the writes that follow."""
    table = connection.ops.quote_name(_KEPT_TABLE)
    if connection.vendor == "postgresql":
        # Created once per connection; emptied (truncated) at the end of each transaction.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} "
            f"(position bigint, {_KEPT_COLUMNS}) ON COMMIT DELETE ROWS"
        )
    else:
        # The position as the row id: the rows are read in the order asked without a sort.
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} "
            f"(position INTEGER PRIMARY KEY, {_KEPT_COLUMNS})"
        )
    # An earlier change in the same transaction (a job run inside a caller's) left its own.
    cursor.execute(f"DELETE FROM {table}")  # noqa: S608
    cursor.execute(f"INSERT INTO {table} {looked_up}", params)
    kept = f"SELECT position, user_id, upn, before_state, kind_of_user, no_row FROM {table}"  # noqa: S608
    return deciding.over(kept, [], materialize=False)


def mfa_state_set_in_database(
    *,
    user_ids: Sequence[int],
    state: MfaState,
    context: ChangeContext,
    record: Callable[[StateChanges], None] | None = None,
) -> None:
    """``mfa_state_set`` for a list of users, as a few statements whatever their number:
    the same decisions, states, audit events (one per changed user, in the order asked) and
    reasons, computed and written by the database (issue 15: a 10k Enable in the time of a
    minimal Django project's). ``record`` reads each user's outcome (a job writes its result
    rows from them).

    Only where this database is the directory: in graph mode each change goes through the
    outbox with the state it replaces (``mfa_state_set``)."""
    if get_directory().sends_changes:
        raise ValueError("the directory of record is not this database: use mfa_state_set")
    looked_up, params, deciding = _state_lookup(
        user_ids=user_ids, state=state, actor=policy.Actor.of(context)
    )
    now = timezone.now()
    quote = connection.ops.quote_name
    mfa_table = quote(UserMfa._meta.db_table)
    user_column = column(UserMfa, "user")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The states stay as read until the transaction ends: other writers of MFA rows
            # (a registration completing) wait for this chunk, readers do not. One lock for
            # the table rather than a row lock for each of 10,000 users (a WAL record each);
            # on SQLite the transaction holds the database's write lock from its start.
            cursor.execute(f"LOCK TABLE {mfa_table} IN SHARE ROW EXCLUSIVE MODE")
        changes = _changes_keep(cursor, looked_up, params, deciding)
        changed = f"FROM ({changes.sql}) AS changes WHERE changes.outcome = 'changed'"
        # A user without an MFA row (Disabled) gets one, in the state they change to.
        defaults = {**_mfa_row_defaults(now), "state": None}
        new_row = [
            "changes.after_state" if name == "state" else placeholder(UserMfa, name)
            for name in defaults
        ]
        cursor.execute(
            f"INSERT INTO {mfa_table} ({user_column}, "
            f"{', '.join(column(UserMfa, name) for name in defaults)}) "
            f"SELECT changes.user_id, {', '.join(new_row)} {changed} AND changes.no_row = 1 "
            # Should the user have been given one meanwhile, it still ends in the state audited.
            f"ON CONFLICT ({user_column}) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            [*[given for name, given in defaults.items() if name != "state"], *changes.params],
        )
        if record is not None:
            record(changes)
        actor_id = context.actor.pk if context.actor is not None else None
        constants: dict[str, Any] = {
            "at": now,
            "actor": actor_id,
            "actor_label": context.actor_label,
            "action": "mfa.state",
            "source": str(context.source),
            "ip_address": context.ip_address,
            "detail": {},
        }
        columns = {
            **{name: placeholder(AuditEvent, name) for name in constants},
            "target": "changes.user_id",
            "target_label": "changes.upn",
            "before": _state_codes("changes.before_state"),
            "after": _state_codes("changes.after_state"),
        }
        audit_columns = ", ".join(column(AuditEvent, name) for name in AUDIT_COLUMNS)
        cursor.execute(
            f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({audit_columns}) "
            f"SELECT {', '.join(columns[name] for name in AUDIT_COLUMNS)} {changed} "
            "ORDER BY changes.position",
            [
                *[
                    value(AuditEvent, name, constants[name])
                    for name in AUDIT_COLUMNS
                    if name in constants
                ],
                *changes.params,
            ],
        )
        cursor.execute(
            f"UPDATE {mfa_table} SET state = changes.after_state, updated_at = %s "  # noqa: S608
            f"{changed} AND changes.no_row = 0 AND {mfa_table}.{user_column} = changes.user_id",
            [value(UserMfa, "updated_at", now), *changes.params],
        )
