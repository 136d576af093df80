"""The moved tables take the names of their new app."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('entra', '0001_initial'),
        ('directory', '0005_sync_and_outbox_moved_to_entra'),
    ]

    operations = [
        migrations.AlterModelTable(name='directorysyncstate', table=None),
        migrations.AlterModelTable(name='outboxchange', table=None),
    ]
