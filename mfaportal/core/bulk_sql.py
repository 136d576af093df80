"""Bulk writes for the sync and the bulk steps, without the ORM's per-value cost.

``bulk_create(update_conflicts=True)`` compiles every value of every row through the field
machinery: at 100k users that is most of a full sync's database time. These helpers send the
same ``INSERT ... ON CONFLICT`` (SQLite 3.24+ and PostgreSQL share the syntax) with values
prepared only where the database needs it (UUIDs, datetimes, JSON):

- SQLite: ``executemany`` of a one-row statement, which it runs fastest;
- PostgreSQL: the rows as one JSON parameter (``json_array_elements``, each value cast to
  its column's type). A statement with a placeholder per value costs psycopg's client-side
  binding more to parse than the server to run, and a list parameter (an ``unnest`` of one
  array per column, as before issue 15's third round) is quoted element by element.

Columns the caller does not give get the model field's default, as ``bulk_create`` would.

A bulk step written as ``INSERT ... SELECT`` / ``UPDATE ... FROM`` takes its list of ids with
``ids_in_order`` and its constants with ``placeholder``.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import F, Func, Q, Value

from mfaportal.core.chunks import chunked

ROWS_PER_STATEMENT = 5000
# Field types whose Python values need converting for the database; the rest go as they are.
_PREPARED = (models.UUIDField, models.DateTimeField, models.DateField, models.JSONField)


def _needs_prep(field: models.Field[Any, Any]) -> bool:
    return isinstance(field, _PREPARED)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise ValueError(f"{model.__name__}.{name} is not a concrete column")
    return field


def _column(model: type[models.Model], name: str) -> str:
    return str(_field(model, name).column)


def _db_type(field: models.Field[Any, Any]) -> str:
    return str(field.db_type(connection))


def bulk_insert(
    model: type[models.Model],
    *,
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (values in the order of ``fields``).

    With ``conflict``: rows clashing on those fields update ``update`` (or are skipped when
    ``update`` is empty), like ``bulk_create(update_conflicts=...)`` / ``ignore_conflicts``.
    """
    opts = model._meta
    given = [_field(model, name) for name in fields]
    given_names = {field.name for field in given}
    others = [
        field
        for field in opts.concrete_fields
        if field.name not in given_names and not isinstance(field, models.AutoField)
    ]
    constants = [field.get_db_prep_save(field.get_default(), connection) for field in others]
    postgresql = connection.vendor == "postgresql"
    # On PostgreSQL the rows travel as JSON, where a JSON column's value is itself.
    prep = [
        (position, field)
        for position, field in enumerate(given)
        if _needs_prep(field) and not (postgresql and isinstance(field, models.JSONField))
    ]
    quote = connection.ops.quote_name
    table = quote(opts.db_table)
    columns = ", ".join(quote(str(field.column)) for field in [*given, *others])
    tail = ""
    if conflict:
        targets = ", ".join(quote(_column(model, name)) for name in conflict)
        if update:
            assignments = ", ".join(
                f"{quote(column)} = excluded.{quote(column)}"
                for column in (_column(model, name) for name in update)
            )
            tail = f" ON CONFLICT ({targets}) DO UPDATE SET {assignments}"
        else:
            tail = f" ON CONFLICT ({targets}) DO NOTHING"

    # A sync writes one timestamp into every row: convert each distinct value once.
    memo: dict[tuple[int, Any], Any] = {}
    # The connection itself, not the proxy: it is asked once per value.
    database = connections[DEFAULT_DB_ALIAS]

    def prepared(row: Sequence[Any]) -> list[Any]:
        values = list(row)
        for position, field in prep:
            value = values[position]
            if isinstance(field, models.DateTimeField | models.DateField):
                key = (position, value)
                if key not in memo:
                    memo[key] = field.get_db_prep_save(value, database)
                values[position] = memo[key]
            else:
                values[position] = field.get_db_prep_save(value, database)
        return values

    batch = [prepared(row) for row in rows]
    if not batch:
        return
    # Identifiers come from the model's metadata, quoted; every value is a parameter.
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            placeholders = ", ".join(["%s"] * (len(given) + len(others)))
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){tail}"  # noqa: S608
            cursor.executemany(sql, [(*values, *constants) for values in batch])
            return
        # PostgreSQL: the rows as one JSON array of arrays, each value cast to its column's
        # type. psycopg's client-side binding quotes a list parameter element by element in
        # Python (a third of a 100k sync's CPU went to it with one array per column); one
        # string made by json.dumps is quoted at once.
        values = [
            f"(data.item -> {position})::{_db_type(field)}"
            if isinstance(field, models.JSONField)
            else f"(data.item ->> {position})::{_db_type(field)}"
            for position, field in enumerate(given)
        ]
        fixed = [f"%s::{_db_type(field)}" for field in others]
        sql = (
            f"INSERT INTO {table} ({columns}) SELECT {', '.join([*values, *fixed])} "  # noqa: S608
            f"FROM json_array_elements(%s::json) AS data (item){tail}"
        )
        for part in chunked(batch, ROWS_PER_STATEMENT):
            cursor.execute(sql, [*constants, json.dumps(part, default=_json_value)])


def _json_value(value: Any) -> str:
    """What PostgreSQL reads back as the column's type: ids and times as text."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    raise TypeError(f"no JSON form for {type(value).__name__}")


class _EqualsAny(Func):
    """``(column = ANY(array))``: a condition ``filter()`` takes as it is."""

    arg_joiner = " = ANY("
    template = "(%(expressions)s))"
    output_field = models.BooleanField()


class _InJsonArray(Func):
    """``(column IN (SELECT value FROM json_each(%s)))``: SQLite's list as one parameter."""

    arg_joiner = " IN (SELECT value FROM json_each("
    template = "(%(expressions)s)))"
    output_field = models.BooleanField()


def one_of(lookup: str, values: Iterable[Any], base_field: models.Field[Any, Any]) -> Q:
    """``Q(lookup__in=values)``, with the whole list as one parameter: ``lookup =
    ANY(%s)`` on PostgreSQL, ``lookup IN (SELECT value FROM json_each(%s))`` on SQLite.

    With a long list the IN form sends one placeholder per value: psycopg's client-side
    binding re-parses thousands of them for every query, and the ORM prepares each value
    through the lookup machinery (a sync asks for 1,000 users a page: measured as a tenth of
    its CPU time at 100k users). ``base_field`` converts each value as the column stores it.
    """
    items = list(values)
    if connection.vendor == "sqlite" and items:
        # The connection itself, not the proxy: it is asked once per value.
        database = connections[DEFAULT_DB_ALIAS]
        prepare = base_field.get_db_prep_value
        if isinstance(base_field, models.IntegerField):
            stored = [int(item) for item in items]  # what get_db_prep_value does, less the calls
        else:
            stored = [prepare(item, database) for item in items]
        return Q(_InJsonArray(F(lookup), Value(json.dumps(stored))))
    if connection.vendor != "postgresql":
        return Q(**{f"{lookup}__in": items})
    from django.contrib.postgres.fields import ArrayField

    return Q(_EqualsAny(F(lookup), Value(items, output_field=ArrayField(base_field))))


def ids_in_order(ids: Sequence[int]) -> tuple[str, list[Any]]:
    """A query of the rows ``(position, id)``, one per id in the order given (``position``
    counting from 0), with its parameters: one JSON text on SQLite (``json_each``), one array
    on PostgreSQL (``unnest ... WITH ORDINALITY``), whatever the number of ids."""
    if connection.vendor == "postgresql":
        return (
            "SELECT position - 1 AS position, id FROM unnest(%s::bigint[]) "
            "WITH ORDINALITY AS ids (id, position)",
            [list(ids)],
        )
    return "SELECT key AS position, value AS id FROM json_each(%s)", [json.dumps(list(ids))]


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of ``model.name``, for hand-written SQL."""
    return str(connection.ops.quote_name(_column(model, name)))


def placeholder(model: type[models.Model], name: str) -> str:
    """The placeholder of a value for ``model.name`` in a hand-written ``INSERT ... SELECT``:
    typed on PostgreSQL, which reads an untyped value in a select list as text (and will not
    put text into an ``inet``, ``uuid`` or ``integer`` column)."""
    if connection.vendor == "postgresql":
        return f"CAST(%s AS {_db_type(_field(model, name))})"
    return "%s"


def value(model: type[models.Model], name: str, given: Any) -> Any:
    """``given`` as the database takes it for ``model.name`` (a UUID, a datetime, JSON)."""
    return _field(model, name).get_db_prep_save(given, connection)
