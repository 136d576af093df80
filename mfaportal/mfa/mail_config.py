"""Mail settings from the environment, read by settings.py (so nothing here touches Django's
settings or models).

- ``MFAPORTAL_EMAIL_URL``: ``smtp://user:password@host:587/?tls=true`` (STARTTLS),
  ``smtps://user:password@host:465/`` (TLS from the first byte), ``console://`` (standard
  output, development) or ``outbox://`` (the database, shown on /demo/mail/). User and
  password are percent-decoded; ``?timeout=`` sets the SMTP timeout in seconds.
- otherwise Django's usual ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``,
  ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS``, ``EMAIL_USE_SSL``, ``EMAIL_TIMEOUT``;
- with neither, the outbox backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
OUTBOX = "mfaportal.mfa.mail.OutboxEmailBackend"
DEFAULT_TIMEOUT = 10.0
TRUE = {"1", "true", "yes", "on"}


def _base(backend: str) -> dict[str, Any]:
    return {
        "EMAIL_BACKEND": backend,
        "EMAIL_HOST": "localhost",
        "EMAIL_PORT": 25,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        # Every SMTP conversation is bounded: a request never hangs on a mail server.
        "EMAIL_TIMEOUT": DEFAULT_TIMEOUT,
    }


def _timeout(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"The mail timeout must be a number of seconds: {raw!r}"
        ) from None
    if value <= 0:
        raise ImproperlyConfigured("The mail timeout must be more than 0 seconds.")
    return value


def email_settings_from_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return _base(CONSOLE)
    if scheme == "outbox":
        return _base(OUTBOX)
    if scheme not in {"smtp", "smtps"}:
        raise ImproperlyConfigured(
            "MFAPORTAL_EMAIL_URL must start with smtp://, smtps://, console:// or outbox://."
        )
    if not parts.hostname:
        raise ImproperlyConfigured("MFAPORTAL_EMAIL_URL names no mail server host.")
    query = {key.lower(): values[-1] for key, values in parse_qs(parts.query).items()}
    use_ssl = scheme == "smtps" or query.get("ssl", "").lower() in TRUE
    use_tls = not use_ssl and query.get("tls", "").lower() in TRUE
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("MFAPORTAL_EMAIL_URL has a port that is not a number.") from None
    settings = _base(SMTP)
    settings.update(
        EMAIL_HOST=parts.hostname,
        EMAIL_PORT=port or (465 if use_ssl else 587 if use_tls else 25),
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_TLS=use_tls,
        EMAIL_USE_SSL=use_ssl,
    )
    if "timeout" in query:
        settings["EMAIL_TIMEOUT"] = _timeout(query["timeout"])
    return settings


def email_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    url = environ.get("MFAPORTAL_EMAIL_URL", "").strip()
    if url:
        return email_settings_from_url(url)
    if environ.get("EMAIL_HOST", "").strip():
        settings = _base(SMTP)
        settings["EMAIL_HOST"] = environ["EMAIL_HOST"].strip()
        settings["EMAIL_HOST_USER"] = environ.get("EMAIL_HOST_USER", "")
        settings["EMAIL_HOST_PASSWORD"] = environ.get("EMAIL_HOST_PASSWORD", "")
        settings["EMAIL_USE_TLS"] = environ.get("EMAIL_USE_TLS", "").lower() in TRUE
        settings["EMAIL_USE_SSL"] = environ.get("EMAIL_USE_SSL", "").lower() in TRUE
        if settings["EMAIL_USE_TLS"] and settings["EMAIL_USE_SSL"]:
            raise ImproperlyConfigured("Set EMAIL_USE_TLS or EMAIL_USE_SSL, not both.")
        port = environ.get("EMAIL_PORT", "").strip()
        if port and not port.isdigit():
            raise ImproperlyConfigured("EMAIL_PORT must be a number.")
        settings["EMAIL_PORT"] = int(port) if port else 25
        if environ.get("EMAIL_TIMEOUT", "").strip():
            settings["EMAIL_TIMEOUT"] = _timeout(environ["EMAIL_TIMEOUT"])
        return settings
    return _base(OUTBOX)
