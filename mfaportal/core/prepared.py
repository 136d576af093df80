"""Statements the ORM builds and compiles once, then runs with each request's values.

For a hot query whose shape never changes (the signed-in user, the legacy endpoint's app
password look-up, the service settings, a flow, a user's methods), building and compiling it took the ORM about 1 ms a request, many times
the query itself (issue 15). ``Prepared`` builds it once per database with stand-in values,
which each call then replaces by its own. The cached SQL is immutable, so threads share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import QuerySet


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
            if isinstance(value, uuid.UUID) and not connection.features.has_native_uuid_field:
                return value.hex  # as UUIDField stores it there
            return value

        swaps = [(adapted(s), adapted(v)) for s, v in zip(self._stand_ins, values, strict=True)]
        bound = []
        for param in params:
            for stand_in, value in swaps:
                if type(param) is type(stand_in) and param == stand_in:
                    param = value
                    break
            bound.append(param)
        return sql, bound


def prepared_rows(prepared: Prepared, model: type[Any], values: Sequence[Any]) -> list[Any]:
    """The rows of ``model`` that ``prepared`` finds for these values, as model instances
    (read on the model's read database)."""
    alias = router.db_for_read(model)
    sql, params = prepared.sql(alias, values)
    return list(model._default_manager.db_manager(alias).raw(sql, params))
