"""A bulk update file's bad lines move out of one JSON value into their own table (read a
page at a time), and the upload keeps its counts. A job whose invalid lines were already
copied into its results at creation is marked so, so it does not copy them again."""

import django.db.models.deletion
from django.db import migrations, models


def errors_move(apps, schema_editor):
    BulkUpload = apps.get_model("admin_portal", "BulkUpload")
    BulkUploadError = apps.get_model("admin_portal", "BulkUploadError")
    BulkJob = apps.get_model("admin_portal", "BulkJob")
    for upload in BulkUpload.objects.iterator(chunk_size=100):
        errors = sorted(upload.errors or [], key=lambda error: error[0])
        BulkUploadError.objects.bulk_create(
            [
                BulkUploadError(
                    upload=upload, line=line, username=str(username)[:255], reason=reason[:255]
                )
                for line, username, reason in errors
            ],
            batch_size=1000,
        )
        upload.row_count = len(upload.rows or [])
        upload.error_count = len(errors)
        upload.save(update_fields=["row_count", "error_count"])
        last = BulkUploadError.objects.filter(upload=upload).order_by("-id").first()
        if last is not None:
            BulkJob.objects.filter(upload=upload).update(invalid_copied_to=last.pk)


class Migration(migrations.Migration):
    dependencies = [("admin_portal", "0003_bulkjob_description_worded_when_shown")]

    operations = [
        migrations.AddField(
            model_name="bulkjob",
            name="invalid_copied_to",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkupload",
            name="error_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="bulkupload",
            name="row_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.CreateModel(
            name="BulkUploadError",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("line", models.PositiveIntegerField()),
                ("username", models.CharField(blank=True, max_length=255)),
                ("reason", models.CharField(max_length=255)),
                (
                    "upload",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="problems",
                        to="admin_portal.bulkupload",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["upload", "id"], name="bulkuploaderror_upload_id")
                ],
            },
        ),
        migrations.RunPython(errors_move, migrations.RunPython.noop),
        migrations.RemoveField(model_name="bulkupload", name="errors"),
    ]
