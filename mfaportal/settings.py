"""Settings for MFA Portal: one module, every knob from the environment.

Production is the default: without ``MFAPORTAL_DEBUG=true`` the portal refuses to start
unless ``MFAPORTAL_SECRET_KEY`` is set. ``make demo`` runs in debug mode and keeps a
generated key in ``var/secret_key``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mfaportal.mfa.mail_config import email_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MFAPORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("MFAPORTAL_DEBUG")


def _secret_key() -> str:
    key = os.environ.get("MFAPORTAL_SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "MFAPORTAL_SECRET_KEY is not set. Production refuses to start without it; "
            "set MFAPORTAL_DEBUG=true for a development key kept in var/secret_key."
        )
    # Development only: generate once and keep it, so sessions survive restarts.
    key_file = VAR_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()

# Reverse proxies whose X-Forwarded-For is believed (CIDRs), e.g. "127.0.0.1/32,10.0.0.0/8".
MFAPORTAL_TRUSTED_PROXIES = env_list("MFAPORTAL_TRUSTED_PROXIES")

ALLOWED_HOSTS = env_list("MFAPORTAL_ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("MFAPORTAL_CSRF_TRUSTED_ORIGINS")

# --- what the portal talks to -------------------------------------------------------------

MFAPORTAL_DIRECTORY = os.environ.get("MFAPORTAL_DIRECTORY", "local")
if MFAPORTAL_DIRECTORY not in {"local", "graph"}:
    raise ImproperlyConfigured("MFAPORTAL_DIRECTORY must be 'local' or 'graph'.")
MFAPORTAL_TENANT_ID = os.environ.get("MFAPORTAL_TENANT_ID", "")
MFAPORTAL_CLIENT_ID = os.environ.get("MFAPORTAL_CLIENT_ID", "")
MFAPORTAL_CLIENT_SECRET = os.environ.get("MFAPORTAL_CLIENT_SECRET", "")
MFAPORTAL_CLIENT_CERT_PATH = os.environ.get("MFAPORTAL_CLIENT_CERT_PATH", "")
# global | usgov | dod | china: the identity platform, Graph and My Sign-Ins of that cloud
# (mfaportal/graph/config.py). An explicit authority host or Graph URL wins over the cloud's.
MFAPORTAL_CLOUD = os.environ.get("MFAPORTAL_CLOUD", "global").strip().lower()
if MFAPORTAL_CLOUD not in {"global", "usgov", "dod", "china"}:
    raise ImproperlyConfigured("MFAPORTAL_CLOUD must be global, usgov, dod or china.")
MFAPORTAL_AUTHORITY_HOST = os.environ.get("MFAPORTAL_AUTHORITY_HOST", "")
MFAPORTAL_GRAPH_URL = os.environ.get("MFAPORTAL_GRAPH_URL", "")
MFAPORTAL_MY_SIGN_INS_URL = os.environ.get("MFAPORTAL_MY_SIGN_INS_URL", "")
MFAPORTAL_CA_BUNDLE = os.environ.get("MFAPORTAL_CA_BUNDLE", "")
MFAPORTAL_GRAPH_TIMEOUT = float(os.environ.get("MFAPORTAL_GRAPH_TIMEOUT", "30"))
# Graph requests (each a $batch of up to 20 calls) in flight at once during sync and sends.
MFAPORTAL_GRAPH_CONCURRENCY = int(os.environ.get("MFAPORTAL_GRAPH_CONCURRENCY", "4"))
# Wait before sending to keep the limits Microsoft publishes (mfaportal/graph/config.py);
# false only against a Graph that keeps none (the benchmark's emulator).
MFAPORTAL_GRAPH_PACED = env_bool("MFAPORTAL_GRAPH_PACED", True)

MFAPORTAL_TELEPHONY = os.environ.get("MFAPORTAL_TELEPHONY", "outbox")
MFAPORTAL_TELEPHONY_URL = os.environ.get("MFAPORTAL_TELEPHONY_URL", "")
MFAPORTAL_TELEPHONY_TOKEN = os.environ.get("MFAPORTAL_TELEPHONY_TOKEN", "")
MFAPORTAL_TELEPHONY_TIMEOUT = float(os.environ.get("MFAPORTAL_TELEPHONY_TIMEOUT", "10"))
# Passkeys and security keys (WebAuthn): the relying party id (the site's domain, never an
# IP address) and the origins browsers may answer from. Empty: the host the request came to
# (already checked against ALLOWED_HOSTS) and that host's own origin.
MFAPORTAL_WEBAUTHN_RP_ID = os.environ.get("MFAPORTAL_WEBAUTHN_RP_ID", "").strip()
MFAPORTAL_WEBAUTHN_ORIGINS = env_list("MFAPORTAL_WEBAUTHN_ORIGINS")
# The outbox (and console) telephony and mail keep codes in clear: production refuses them
# at start-up unless a lab allows them here (mfaportal/mfa/outboxes.py).
MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION = env_bool("MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION")

# The tenant's display name and its own mail domains (used for UPNs and the SSPR email rule).
MFAPORTAL_TENANT_NAME = os.environ.get("MFAPORTAL_TENANT_NAME", "contoso.test")
MFAPORTAL_TENANT_DOMAINS = env_list("MFAPORTAL_TENANT_DOMAINS", MFAPORTAL_TENANT_NAME)

# Keys for secrets at rest. MFAPORTAL_ENCRYPTION_KEYS is "kid:base64url-32-bytes,..."; the
# first key encrypts, every key decrypts, so keys can rotate. Without it a key is derived
# from the secret key (fine for a demo, not for rotating the secret key in production).
MFAPORTAL_ENCRYPTION_KEYS = os.environ.get("MFAPORTAL_ENCRYPTION_KEYS", "")
MFAPORTAL_HMAC_KEY = os.environ.get("MFAPORTAL_HMAC_KEY", "")

# Mail (authentication email codes, DESIGN §5.7): MFAPORTAL_EMAIL_URL such as
# smtp://user:password@mail.example.com:587/?tls=true, or the usual EMAIL_* variables; with
# neither, the outbox backend keeps each message in the database for /demo/mail/.
_email = email_settings(os.environ)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
EMAIL_USE_TLS = _email["EMAIL_USE_TLS"]
EMAIL_USE_SSL = _email["EMAIL_USE_SSL"]
EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"]
DEFAULT_FROM_EMAIL = os.environ.get(
    "MFAPORTAL_EMAIL_FROM", f"MFA Portal <no-reply@{MFAPORTAL_TENANT_NAME}>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Local-mode simulators (/demo/phone/, /demo/authenticator/, /demo/mail/) exist only when enabled.
MFAPORTAL_SIMULATORS = env_bool("MFAPORTAL_SIMULATORS", default=DEBUG)

# Days the sign-in log keeps each attempt (mfa.tasks.signin_log_prune_run deletes older ones).
MFAPORTAL_SIGNIN_LOG_DAYS = max(1, int(os.environ.get("MFAPORTAL_SIGNIN_LOG_DAYS", "30")))

# --- Django ----------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "mfaportal.core",
    "mfaportal.directory",
    "mfaportal.mfa",
    "mfaportal.entra",
    "mfaportal.admin_portal",
    "mfaportal.selfservice",
    "mfaportal.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files: whitenoise in production; runserver and the test server serve them in debug.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "mfaportal.core.middleware.SessionMiddleware",
    # The language from the user's choice (cookie) or the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mfaportal.core.middleware.SecurityHeadersMiddleware",
    # A temporary password is replaced before any page opens (DESIGN §5.7).
    "mfaportal.selfservice.middleware.PasswordChangeRequiredMiddleware",
]

ROOT_URLCONF = "mfaportal.urls"
WSGI_APPLICATION = "mfaportal.wsgi.application"
AUTH_USER_MODEL = "directory.DirectoryUser"
# The signed-in user with their roles in one query (issue 15). Django's ModelBackend stays
# listed so sessions signed in before it keep working; nothing calls authenticate().
AUTHENTICATION_BACKENDS = [
    "mfaportal.admin_portal.backends.DirectoryUserBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "signin"
LOGIN_REDIRECT_URL = "home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # Partials (django-template-partials) over Django's cached loader, which here
            # also renders each template's fixed text once per language (issue 15).
            "loaders": [
                (
                    "template_partials.loader.Loader",
                    [
                        (
                            "mfaportal.core.template_folding.Loader",
                            [
                                "django.template.loaders.filesystem.Loader",
                                "django.template.loaders.app_directories.Loader",
                            ],
                        )
                    ],
                )
            ],
            # {% url %} remembers what a URL without arguments reverses to; {% fixed %}
            # keeps a part of a page that depends on a few named values (issue 15).
            "builtins": [
                "mfaportal.core.templatetags.cached_url",
                "mfaportal.core.templatetags.fixed",
            ],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mfaportal.core.context_processors.portal",
            ],
        },
    }
]

SQLITE_ENGINE = "mfaportal.core.sqlite"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'mfaportal.sqlite3'}"),
        conn_max_age=int(os.environ.get("MFAPORTAL_DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend with each statement's placeholders converted once (issue 15).
    DATABASES["default"]["ENGINE"] = SQLITE_ENGINE
    # WAL lets the task worker write while pages read; IMMEDIATE avoids upgrade deadlocks.
    # The PRAGMAs run once per connection, and connections persist as on PostgreSQL
    # (MFAPORTAL_DB_CONN_MAX_AGE): reconnecting on every request cost the users tab about
    # 15% of its throughput under gunicorn (issue 15, docs/performance.md).
    # mmap_size: pages read from the OS's cache in place rather than copied through SQLite's
    # 2 MB page cache; at 100,000 users the status filter's probe of each user's MFA row went
    # from 5.3 to 4.5 ms (issue 15, docs/performance.md).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA mmap_size=268435456;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    if str(DATABASES["default"]["NAME"]).startswith(str(VAR_DIR)):
        VAR_DIR.mkdir(parents=True, exist_ok=True)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No parallel workers: each statement here reads a page, a bound or a batch, and workers
    # take milliseconds to start on a busy machine. PostgreSQL planned them for the search
    # bound of "zo" at 100,000 users: 7.7 ms to read three rows (issue 15,
    # docs/performance.md). Sent per connection as libpq's startup options.
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options["options"] = " ".join(
        filter(None, [_pg_options.get("options", ""), "-c max_parallel_workers_per_gather=0"])
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": os.environ.get("MFAPORTAL_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
if TASKS["default"]["BACKEND"] == "django_tasks_rq.RQBackend":
    # Tasks on Redis when the database queue is not enough (docs/deployment.md); workers run
    # `manage.py rqworker --job-class django_tasks_rq.Job default`.
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    RQ_QUEUES = {
        "default": {
            "URL": os.environ.get("MFAPORTAL_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "DEFAULT_TIMEOUT": int(os.environ.get("MFAPORTAL_TASK_TIMEOUT", "3600")),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# English first; every visible string is translatable (DESIGN §8). Spanish is complete.
LANGUAGES = [("en", "English"), ("es", "Spanish")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates are shown in the reader's language (mfaportal/core/formats) and in this time zone.
FORMAT_MODULE_PATH = ["mfaportal.core.formats"]
TIME_ZONE = os.environ.get("MFAPORTAL_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("MFAPORTAL_STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- security --------------------------------------------------------------------------------

# Django's database sessions, read by a statement compiled once (core.sessions).
SESSION_ENGINE = "mfaportal.core.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("MFAPORTAL_SESSION_AGE", str(8 * 3600)))
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("MFAPORTAL_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("MFAPORTAL_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("MFAPORTAL_HSTS_PRELOAD", default=True)
    # Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^ready/$"]

# --- logging: structured enough to grep, never a secret -------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "mfaportal.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": os.environ.get("MFAPORTAL_LOG_FORMAT", "plain"),
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("MFAPORTAL_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}
