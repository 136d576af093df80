"""Settings of the floor project: what ``startproject`` gives, minus what a 50-row page
doesn't use. The database is the portal's tenant database, handed over by the benchmark."""

import json
import os

SECRET_KEY = "floor-bench-only-" + "f" * 40
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "bench.floor.urls"
INSTALLED_APPS = ["bench.floor"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.csrf"]},
    }
]
DATABASES = {"default": json.loads(os.environ.get("FLOOR_DATABASE", "{}"))}
USE_TZ = True
USE_I18N = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None
