from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DirectoryConfig(AppConfig):
    name = "mfaportal.directory"
    label = "directory"

    def ready(self) -> None:
        from mfaportal.directory.indexes import users_list_indexes_ensure

        # The users table's search and sort indexes are raw SQL that SQLite loses when a
        # migration rebuilds the table: put them back after every migrate.
        post_migrate.connect(users_list_indexes_ensure, sender=self)
