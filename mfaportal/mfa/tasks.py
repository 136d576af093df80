"""Background tasks of the MFA domain (django-tasks; ``manage.py db_worker`` runs them)."""

from __future__ import annotations

from django_tasks import task

from mfaportal.mfa.services.signin_log import signin_log_prune


@task()
def signin_log_prune_run() -> dict[str, int]:
    """Delete sign-in events past the retention (``MFAPORTAL_SIGNIN_LOG_DAYS``)."""
    return {"deleted": signin_log_prune()}
