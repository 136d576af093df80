from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "mfaportal.directory"
    label = "directory"
