from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "mfaportal.mfa"
    label = "mfa"
