"""Test settings: the real settings module, in development mode, with a fixed key."""

import os

for name, value in {
    "MFAPORTAL_DEBUG": "true",
    "MFAPORTAL_SECRET_KEY": "tests-only-not-secret-" + "k" * 40,
    "MFAPORTAL_SIMULATORS": "true",
}.items():
    if not os.environ.get(name):
        os.environ[name] = value

from mfaportal.settings import *  # noqa: E402, F403

# Password hashing is not what these tests measure; PBKDF2 would make them slow.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
