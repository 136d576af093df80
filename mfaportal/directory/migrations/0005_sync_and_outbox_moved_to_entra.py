"""DirectorySyncState and OutboxChange now belong to the entra app (its 0001): the
directory app forgets them without touching the tables."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('directory', '0004_password_must_change'),
        ('entra', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='DirectorySyncState'),
                migrations.DeleteModel(name='OutboxChange'),
            ],
            database_operations=[],
        ),
    ]
