from django.apps import AppConfig


class EntraConfig(AppConfig):
    """Graph mode: the Graph directory, sync, the outbox and staff sign-in with Entra ID."""

    name = "mfaportal.entra"
    label = "entra"
