"""The indexes the users tab relies on, kept in place after every ``migrate``.

The list pages by keyset on (UPPER(column), id) and searches by case-insensitive prefix
(the per-vendor indexes of directory migration 0002). Those indexes are raw SQL, unknown to
Django's model state, so on SQLite any later migration that rebuilds the
directory_directoryuser table (an AddField with a default does) silently drops them, and a
100k-user list falls back to a full scan and sort. Re-creating them (IF NOT EXISTS) after
each migrate keeps them whatever the directory app's migrations do.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.db import connections
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

TABLE = "directory_directoryuser"
ORDER_INDEXES = {
    "directory_user_name_upper_id": "display_name",
    "directory_user_upn_upper_id": "user_principal_name",
}


def users_list_indexes_ensure(*, using: str = "default", **_kwargs: Any) -> None:
    """post_migrate receiver: create whichever of the indexes is missing."""
    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql"):
        return
    if TABLE not in connection.introspection.table_names():
        return
    with connection.schema_editor() as editor:
        users_list_indexes_create(editor)


def users_list_indexes_create(editor: BaseDatabaseSchemaEditor) -> None:
    if editor.connection.vendor not in ("sqlite", "postgresql"):
        return
    for name, column in ORDER_INDEXES.items():
        editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{TABLE}" (UPPER("{column}"), "id")'
        )
    prefix_indexes = importlib.import_module(
        "mfaportal.directory.migrations.0002_prefix_search_indexes"
    )
    prefix_indexes.create(None, editor)
