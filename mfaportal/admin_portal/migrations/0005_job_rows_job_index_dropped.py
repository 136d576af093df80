"""A job's result rows lose the index of their own on ``job``: ``bulkjobrow_job_outcome``
leads with it and serves every look-up (the results, the dialog, a job's deletion), and each
index more slowed every result row a bulk step writes (issue 15, docs/performance.md).

Dropped by name (Django named it in 0001, the same on SQLite and PostgreSQL) rather than
through ``AlterField``, which on SQLite would copy the whole table into a new one."""

from django.db import migrations, models

INDEX = "admin_portal_bulkjobrow_job_id_1c6fb7cb"


class Migration(migrations.Migration):
    dependencies = [
        ("admin_portal", "0004_uploads_bounded_files"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="bulkjobrow",
                    name="job",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="rows",
                        to="admin_portal.bulkjob",
                    ),
                )
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=(
                        f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "admin_portal_bulkjobrow" ("job_id")'
                    ),
                )
            ],
        )
    ]
