"""Indexes for the users tab's case-insensitive order: (UPPER(column), id).

The list pages by keyset on exactly these expressions (mfaportal.directory.selectors.
users_page), so a page is an index range scan at any depth on SQLite and PostgreSQL. They
are re-created after every migrate as well (mfaportal.directory.indexes), because a later
SQLite table rebuild of directory_directoryuser would drop them.
"""

from django.db import migrations

INDEXES = ("directory_user_name_upper_id", "directory_user_upn_upper_id")


def create(apps, schema_editor):
    from mfaportal.directory.indexes import users_list_indexes_create

    users_list_indexes_create(schema_editor)


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("admin_portal", "0001_initial"),
        ("directory", "0002_prefix_search_indexes"),
    ]
    operations = [migrations.RunPython(create, drop)]
