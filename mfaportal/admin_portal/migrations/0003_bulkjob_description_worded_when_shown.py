"""A job's description is worded when it is shown, in the reader's language, instead of
being stored in the language of whoever started it. A bulk update keeps its file's name in
``params`` (its upload may be deleted), so the stored text can go."""

from django.db import migrations


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
        migrations.RemoveField(model_name="bulkjob", name="description"),
    ]
