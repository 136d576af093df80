"""A job's description is worded when it is shown, in the reader's language, instead of
being stored in the language of whoever started it. A bulk update keeps its file's name in
``params`` (its upload may be deleted), so the stored text can go."""

from django.db import migrations, models


def file_names_keep(apps, schema_editor):
    BulkJob = apps.get_model("admin_portal", "BulkJob")
    for job in BulkJob.objects.filter(kind="bulk_update", upload__isnull=False).select_related(
        "upload"
    ):
        job.params = {**job.params, "file_name": job.upload.file_name}
        job.save(update_fields=["params"])


class Migration(migrations.Migration):
    dependencies = [("admin_portal", "0002_users_list_order_indexes")]

    operations = [
        migrations.RunPython(file_names_keep, migrations.RunPython.noop),
        # With a default, going back re-adds the column to a table that has rows.
        migrations.AlterField(
            model_name="bulkjob",
            name="description",
            field=models.CharField(max_length=255, blank=True, default=""),
        ),
        migrations.RemoveField(model_name="bulkjob", name="description"),
    ]
