"""The users table keeps its search and sort indexes through every migration (SQLite drops
raw-SQL indexes when a migration rebuilds a table; they are re-created after migrate)."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

EXPECTED = {
    "directory_user_display_name_prefix",
    "directory_user_user_principal_name_prefix",
    "directory_user_mail_prefix",
    "directory_user_name_upper_id",
    "directory_user_upn_upper_id",
}


def test_the_users_table_has_its_search_and_sort_indexes_after_migrate() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'directory_directoryuser'"
            )
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'directory_directoryuser'"
            )
        names = {row[0] for row in cursor.fetchall()}
    assert names >= EXPECTED
    # Served no query the unique index on the column does not; a full sync kept it up to date.
    assert "directory_user_upn_id" not in names
