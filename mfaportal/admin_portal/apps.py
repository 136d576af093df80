from django.apps import AppConfig


class AdminPortalConfig(AppConfig):
    name = "mfaportal.admin_portal"
    label = "admin_portal"
