"""Settings of the floor project: what ``startproject`` gives, minus the admin site and
static files. Signed-in pages load a database session and a ``django.contrib.auth`` user,
as any real Django site's do (issue 15 measured its floor that way: 1.2 to 3.2 ms for the
setup and challenge pages). The database is the portal's tenant database, handed over by the
benchmark."""

import json
import os

SECRET_KEY = "floor-bench-only-" + "f" * 40
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "bench.floor.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "bench.floor",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": json.loads(os.environ.get("FLOOR_DATABASE", "{}"))}
LOGIN_URL = "/login/"
LANGUAGE_CODE = "en-us"
USE_TZ = True
USE_I18N = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None
