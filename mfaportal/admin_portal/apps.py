from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AdminPortalConfig(AppConfig):
    name = "mfaportal.admin_portal"
    label = "admin_portal"

    def ready(self) -> None:
        from mfaportal.admin_portal.indexes import users_list_indexes_ensure

        post_migrate.connect(users_list_indexes_ensure, sender=self)
