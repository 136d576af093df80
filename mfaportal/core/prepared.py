"""Statements the ORM builds and compiles once, then runs with each request's values.

For a hot query whose shape never changes (the signed-in user, the legacy endpoint's app
password look-up, the service settings, a flow, a user's methods), building and compiling it
took the ORM about 1 ms a request, many times the query itself (issue 15). ``Prepared``
builds it once per database with stand-in values, which each call then replaces by its own.
The cached SQL is immutable, so threads share it. ``prepared_rows`` runs such a statement
and makes model instances as the ORM would (converters, ``select_related`` objects,
annotations), from what the first compilation worked out.

A text stand-in also stands in for the pattern a prefix lookup (``istartswith``) makes of it,
so a search term can be one of the values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]


def like_prefix(term: str) -> str:
    """The LIKE pattern of the values that start with ``term``, as Django words it for
    ``startswith``/``istartswith``: the wildcards and the escape character escaped."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _adapted(value: Any, alias: str) -> Any:
    """A value as the ORM binds it on database ``alias``."""
    if isinstance(value, datetime):
        return connections[alias].ops.adapt_datetimefield_value(value)
    if isinstance(value, uuid.UUID) and not connections[alias].features.has_native_uuid_field:
        return value.hex  # as UUIDField stores it there
    return value


@dataclass(frozen=True)
class _Statement:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int, bool], ...]


@dataclass(frozen=True)
class _Shape:
    """How a compiled statement's rows become model instances (ModelIterable's recipe)."""

    model: Any
    start: int
    end: int
    init_list: list[str]
    related: list[Any]
    annotations: dict[str, int]
    converters: dict[int, Any]
    compiler: Any


class Prepared:
    def __init__(self, build: Callable[..., QuerySet[Any]], stand_ins: Sequence[Any]) -> None:
        """``build(*values)`` returns the query for those values; ``stand_ins`` are values no
        real call passes (distinct, and not equal to any constant the query holds)."""
        self._build = build
        self._stand_ins = tuple(stand_ins)
        # Per database: the SQL, its parameters with stand-ins, and where each value goes.
        self._statements: dict[tuple[str, str], _Statement] = {}
        self._shapes: dict[tuple[str, str], _Shape] = {}

    def _compile(self, alias: str, key: tuple[str, str]) -> None:
        compiler = self._build(*self._stand_ins).query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        klass_info = compiler.klass_info
        # How to make model instances, for a query of them; a values_list() query's rows
        # stay tuples (Django 5.2 describes its model columns too, around its annotations).
        if klass_info is not None and compiler.query.default_cols:
            select = compiler.select
            fields = klass_info["select_fields"]
            start, end = fields[0], fields[-1] + 1
            self._shapes[key] = _Shape(
                model=klass_info["model"],
                start=start,
                end=end,
                init_list=[column[0].target.attname for column in select[start:end]],
                related=get_related_populators(klass_info, select, alias),
                annotations=dict(compiler.annotation_col_map or {}),
                converters=compiler.get_converters(
                    [column[0] for column in select[: compiler.col_count]]
                ),
                compiler=compiler,
            )
        self._statements[key] = _Statement(sql, tuple(params), self._slots(params, alias))

    def _slots(self, params: Sequence[Any], alias: str) -> tuple[tuple[int, int, bool], ...]:
        """Where each value goes: (parameter position, value index, as a prefix pattern), for
        every parameter that is a stand-in as bound, or the pattern ``istartswith`` makes of
        a text stand-in. Other parameters are the query's own constants and stay."""
        swaps = [(_adapted(s, alias), i, False) for i, s in enumerate(self._stand_ins)]
        swaps += [
            (like_prefix(s), i, True) for i, s in enumerate(self._stand_ins) if isinstance(s, str)
        ]
        slots = []
        for position, param in enumerate(params):
            for stand_in, index, pattern in swaps:
                if type(param) is type(stand_in) and param == stand_in:
                    slots.append((position, index, pattern))
                    break
        return tuple(slots)

    def sql(self, alias: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """The statement and its parameters for these values, on database ``alias``."""
        key = (alias, connections[alias].vendor)
        statement = self._statements.get(key)
        if statement is None:
            self._compile(alias, key)
            statement = self._statements[key]
        if len(values) != len(self._stand_ins):
            raise ValueError(f"{len(self._stand_ins)} values expected, not {len(values)}")
        bound = list(statement.params)
        for position, index, pattern in statement.slots:
            value = values[index]
            if pattern:
                if not isinstance(value, str):
                    raise TypeError(f"value {index} is matched as a prefix: text, not {value!r}")
                bound[position] = like_prefix(value)
            else:
                bound[position] = _adapted(value, alias)
        return statement.sql, bound

    def shape(self, alias: str) -> _Shape:
        return self._shapes[(alias, connections[alias].vendor)]


Wrap = Callable[[str, list[Any], str], tuple[str, list[Any]]]


def prepared_rows(
    prepared: Prepared,
    model: type[Any],
    values: Sequence[Any],
    *,
    wrap: Wrap | None = None,
    extra: Sequence[str] = (),
) -> list[Any]:
    """The model instances ``prepared`` finds for these values, as the ORM makes them (with
    any ``select_related`` objects and annotations), read on the model's read database.
    ``wrap(sql, params, alias)`` may turn the statement into one that answers the same
    columns followed by ``extra`` ones, set on each instance under those names."""
    alias = router.db_for_read(model)
    sql, params = prepared.sql(alias, values)
    if wrap is not None:
        sql, params = wrap(sql, params, alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    shape = prepared.shape(alias)
    if shape.converters:
        rows = list(shape.compiler.apply_converters(rows, shape.converters))
    found = []
    for row in rows:
        obj = shape.model.from_db(alias, shape.init_list, row[shape.start : shape.end])
        for populator in shape.related:
            populator.populate(row, obj)
        for name, position in shape.annotations.items():
            setattr(obj, name, row[position])
        for offset, name in enumerate(extra, start=len(row) - len(extra)):
            setattr(obj, name, row[offset])
        found.append(obj)
    return found
