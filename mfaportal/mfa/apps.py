from django.apps import AppConfig


class MfaConfig(AppConfig):
    name = "mfaportal.mfa"
    label = "mfa"

    def ready(self) -> None:
        from mfaportal.mfa import outboxes  # noqa: F401  (registers its start-up check)
