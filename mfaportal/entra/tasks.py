"""Background tasks of graph mode (django-tasks; ``manage.py db_worker`` runs them).

- ``outbox_send``: enqueued on commit by every admin action; sends those changes.
- ``outbox_drain``: sends every due change; enqueued with ``run_after`` for the next retry
  (the database backend keeps it across restarts), and what ``manage.py outbox_drain`` runs.
- ``directory_sync_run``: a full or delta sync ("Sync now", or a scheduler).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from django_tasks import task, task_backends

from mfaportal.entra.outbox import DeliveryReport, outbox_deliver

logger = logging.getLogger(__name__)


@task()
def outbox_send(change_ids: list[int]) -> dict[str, int]:
    report = outbox_deliver(change_ids=change_ids)
    retry_later(report)
    return {"done": report.done, "failed": report.failed, "retrying": report.retrying}


@task()
def outbox_drain() -> dict[str, int]:
    report = outbox_deliver()
    retry_later(report)
    return {"done": report.done, "failed": report.failed, "retrying": report.retrying}


def retry_later(report: DeliveryReport) -> None:
    """Schedule a drain for when the earliest waiting change is due again.

    Only backends that keep tasks for later can (the database backend does, across
    restarts); elsewhere a periodic ``manage.py outbox_drain`` does the same job.
    """
    if report.next_attempt_at is None:
        return
    if not task_backends[outbox_drain.backend].supports_defer:
        return
    run_after = max(report.next_attempt_at, timezone.now() + timedelta(seconds=1))
    try:
        outbox_drain.using(run_after=run_after).enqueue()
    except Exception:
        logger.exception("could not schedule the next outbox drain")


@task()
def directory_sync_run(full: bool = False, requested_by: str = "") -> dict[str, object]:
    # Imported here: sync pulls in the whole Graph client, which the outbox tasks also need,
    # but keeping the task module light keeps `db_worker` start-up light.
    from mfaportal.entra.sync import SyncBusy, directory_sync

    try:
        result = directory_sync(full=full, requested_by=requested_by)
    except SyncBusy:
        logger.info("a directory sync is already running; this request is dropped")
        return {"skipped": "already running"}
    return {"summary": result.summary()}
