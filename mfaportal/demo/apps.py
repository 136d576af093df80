from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "mfaportal.demo"
    label = "demo"
