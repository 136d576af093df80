"""Django's SQLite backend, with each statement's placeholders converted once (issue 15).

Django writes ``%s`` placeholders; SQLite wants ``?``. Django's cursor converts every
statement on every execution with a look-behind regular expression, about 33 µs per KB of
SQL: a fifth of a millisecond on each search of the users tab (~6 KB of SQL), for the same
few texts again and again. Here the converted text of a statement up to ``_KEPT_LENGTH``
characters is kept (the last ``_KEPT`` texts), so the hot statements are converted once per
process. The conversion itself is Django's; nothing else differs
(``ENGINE = "mfaportal.core.sqlite"``, set by the settings for a ``sqlite://`` database).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.db.backends.sqlite3 import base

# Longer texts (a bulk step's IN list of thousands of ids) are converted each time, as
# Django does: they are rarely the same twice, and keeping them would hold their memory.
_KEPT_LENGTH = 16_384
_KEPT = 512


@lru_cache(maxsize=_KEPT)
def _qmark(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: Sequence[str] | None = None) -> str:
        if param_names is None and len(query) <= _KEPT_LENGTH:
            return _qmark(query)
        # The stubs don't declare Django's convert_query (django/db/backends/sqlite3/base.py).
        converted: str = super().convert_query(query, param_names=param_names)  # type: ignore[misc]
        return converted


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: Any = None) -> SQLiteCursorWrapper:
        return self.connection.cursor(factory=SQLiteCursorWrapper)
