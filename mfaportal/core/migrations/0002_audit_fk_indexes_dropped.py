"""The audit rows' actor and target lose their own indexes: ``audit_actor_at`` and
``audit_target_at`` lead with the same columns and serve every look-up, and each index
more slowed every audit row a bulk step writes (issue 15, docs/performance.md).

The indexes are dropped by name (Django named them in 0001, the same on SQLite and
PostgreSQL) rather than through ``AlterField``, which on SQLite would copy the whole
audit table into a new one."""

from django.conf import settings
from django.db import migrations, models

INDEXES = {
    "core_auditevent_actor_id_3bd0c673": "actor_id",
    "core_auditevent_target_id_e52745a2": "target_id",
}


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name=name,
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.SET_NULL,
                        related_name=f"audit_events_as_{name}",
                        to=settings.AUTH_USER_MODEL,
                    ),
                )
                for name in ("actor", "target")
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "core_auditevent" ("{column}")',
                )
                for index, column in INDEXES.items()
            ],
        )
    ]
