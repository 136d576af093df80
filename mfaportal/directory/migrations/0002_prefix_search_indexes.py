"""Case-insensitive prefix search on display name, user name and mail, per database.

Django compiles ``istartswith`` to ``col LIKE 'ad%'`` on SQLite (case-insensitive for ASCII,
and able to use an index only when the index uses the NOCASE collation) and to
``UPPER(col::text) LIKE UPPER('ad%')`` on PostgreSQL (able to use an index only on exactly
that expression with ``text_pattern_ops``). The indexes below match those two shapes.
"""

from django.db import migrations

COLUMNS = ("display_name", "user_principal_name", "mail")


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for column in COLUMNS:
        name = f"directory_user_{column}_prefix"
        if vendor == "sqlite":
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "directory_directoryuser" '
                f'("{column}" COLLATE NOCASE)'
            )
        elif vendor == "postgresql":
            schema_editor.execute(
                f'CREATE INDEX IF NOT EXISTS "{name}" ON "directory_directoryuser" '
                f'((UPPER("{column}"::text)) text_pattern_ops)'
            )


def drop(apps, schema_editor):
    for column in COLUMNS:
        schema_editor.execute(f'DROP INDEX IF EXISTS "directory_user_{column}_prefix"')


class Migration(migrations.Migration):
    dependencies = [("directory", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
