from django.apps import AppConfig


class SelfserviceConfig(AppConfig):
    name = "mfaportal.selfservice"
    label = "selfservice"
