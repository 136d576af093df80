"""Benchmark settings: the real settings, served as in production (DEBUG off), with tasks
run in-process so a bulk step's time includes the job it queues."""

import os

os.environ.setdefault("MFAPORTAL_DEBUG", "true")
os.environ.setdefault("MFAPORTAL_SECRET_KEY", "bench-only-not-secret-" + "b" * 40)

from mfaportal.settings import *  # noqa: F403
from mfaportal.settings import DATABASES, SQLITE_ENGINE, VAR_DIR

DEBUG = False
ALLOWED_HOSTS = ["testserver"]
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
LOGGING_CONFIG = None
if DATABASES["default"]["ENGINE"] == SQLITE_ENGINE:
    # A file, as in production (WAL), not the in-memory database tests get.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "bench.sqlite3")}
