"""The result rows that say why (a skip, a failure, Enabled that became Enforced) get an
index of their own, partial so that it is written for those rows only: the result dialog
lists the first fifty users made Enforced and counts the rest without reading each changed
row of the job (issue 15, docs/performance.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("admin_portal", "0005_job_rows_job_index_dropped"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="bulkjobrow",
            index=models.Index(
                condition=models.Q(reason__gt=""),
                fields=["job", "outcome", "reason"],
                name="bulkjobrow_job_reason",
            ),
        ),
    ]
