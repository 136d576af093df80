"""What Django builds and compiles during a block (issue 15: statements compiled once)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models.sql.compiler import SQLCompiler


@contextmanager
def tables_compiled() -> Iterator[list[str]]:
    """The table of each statement the ORM compiles inside the block, in order."""
    compiled: list[str] = []
    as_sql = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        compiled.append(self.query.model._meta.db_table if self.query.model else "")
        return as_sql(self, *args, **kwargs)

    SQLCompiler.as_sql = counting  # type: ignore[method-assign]
    try:
        yield compiled
    finally:
        SQLCompiler.as_sql = as_sql  # type: ignore[method-assign]
