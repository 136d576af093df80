from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mfaportal.core"
    label = "core"
