"""Statements the ORM builds and compiles once, then runs with each request's values.

For a hot query whose shape never changes (the signed-in user, the legacy endpoint's app
password look-up), building and compiling it took the ORM about 1 ms a request, many times
the query itself (issue 15). ``Prepared`` builds it once per database with stand-in values,
which each call then replaces by its own. The cached SQL is immutable, so threads share it.

A text stand-in also stands in for the pattern a prefix lookup (``istartswith``) makes of it,
so a search term can be one of the values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import QuerySet


def like_prefix(term: str) -> str:
    """The LIKE pattern of the values that start with ``term``, as Django words it for
    ``startswith``/``istartswith``: the wildcards and the escape character escaped."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Prepared:
    def __init__(self, build: Callable[..., QuerySet[Any]], stand_ins: Sequence[Any]) -> None:
        """``build(*values)`` returns the query for those values; ``stand_ins`` are values no
        real call passes (distinct, and not equal to any constant the query holds)."""
        self._build = build
        self._stand_ins = tuple(stand_ins)
        self._statements: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}

    def sql(self, alias: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """The statement and its parameters for these values, on database ``alias``."""
        connection = connections[alias]
        key = (alias, connection.vendor)
        if key not in self._statements:
            query = self._build(*self._stand_ins).query
            self._statements[key] = query.get_compiler(using=alias).as_sql()
        sql, params = self._statements[key]

        def adapted(value: Any) -> Any:
            if isinstance(value, datetime):
                return connection.ops.adapt_datetimefield_value(value)
            return value

        swaps = [(adapted(s), adapted(v)) for s, v in zip(self._stand_ins, values, strict=True)]
        swaps += [
            (like_prefix(s), like_prefix(v))
            for s, v in zip(self._stand_ins, values, strict=True)
            if isinstance(s, str) and isinstance(v, str)
        ]
        bound = []
        for param in params:
            for stand_in, value in swaps:
                if type(param) is type(stand_in) and param == stand_in:
                    param = value
                    break
            bound.append(param)
        return sql, bound
