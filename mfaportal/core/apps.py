from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mfaportal.core"
    label = "core"

    def ready(self) -> None:
        from mfaportal.core import client_ip  # noqa: F401  (registers its deploy check)
