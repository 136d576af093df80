"""RQ + Redis as the task backend (docs/deployment.md, "Tasks on Redis"): a real portal task
enqueued by the portal goes through a real redis-server and a real ``rqworker``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import Production, free_port, wait_for_port

ENQUEUE_BULK_JOB = """
from mfaportal.admin_portal.jobs import state_job_create
from mfaportal.admin_portal.tasks import bulk_job_run
from mfaportal.directory.models import DirectoryUser

admin = DirectoryUser.objects.get(user_principal_name="admin@contoso.test")
users = DirectoryUser.objects.filter(
    user_principal_name__in=["adele@contoso.test", "helpdesk@contoso.test"]
)
job = state_job_create(
    step="enable", user_ids=[u.pk for u in users], actor=admin, ip_address=None
)
result = bulk_job_run.enqueue(str(job.pk))
print("ENQUEUED", job.pk, result.id, type(result.task.get_backend()).__name__)
"""

JOB_STATUS = """
from mfaportal.admin_portal.models import BulkJob
job = BulkJob.objects.get(pk="{job_id}")
print("JOB", job.status, job.changed)
"""


def marked(stdout: str, marker: str) -> list[str]:
    """The words of the line the script printed after ``marker`` (logs may surround it)."""
    lines = [line.split() for line in stdout.splitlines() if line.startswith(marker + " ")]
    assert lines, stdout
    return lines[-1]


def job_status(production: Production, job_id: str) -> list[str]:
    return marked(production.manage("shell", "-c", JOB_STATUS.format(job_id=job_id)).stdout, "JOB")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own: free port, no persistence, stopped after."""
    server = shutil.which("redis-server")
    # CI installs it (.ci/run); a missing server is a broken environment, not a skip.
    assert server, "redis-server is not installed (apt-get install redis-server)"
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    redis = Production(env={"MFAPORTAL_VAR_DIR": str(data), "PATH": "/usr/bin:/bin"})
    process = redis.start(
        "redis",
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    )
    try:
        wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        redis.stop_all()


def test_a_bulk_job_runs_through_redis_and_an_rq_worker(
    production: Production, redis_url: str
) -> None:
    production.env.update(
        MFAPORTAL_TASKS_BACKEND="django_tasks_rq.RQBackend", MFAPORTAL_REDIS_URL=redis_url
    )
    production.manage("migrate", "--noinput")
    production.manage("seed_demo", "--users", "0", "--password", "Rq-Passw0rd!x")
    production.manage("check")

    _, job_id, result_id, backend = marked(
        production.manage("shell", "-c", ENQUEUE_BULK_JOB).stdout, "ENQUEUED"
    )
    assert backend == "RQBackend"
    # Queued in Redis, not yet applied: nothing has run it.
    assert job_status(production, job_id) == ["JOB", "queued", "0"]

    worker = production.manage(
        "rqworker", "--burst", "--job-class", "django_tasks_rq.Job", "default"
    )
    assert result_id in worker.stdout + worker.stderr

    assert job_status(production, job_id) == ["JOB", "succeeded", "2"]
    for upn in ("adele@contoso.test", "helpdesk@contoso.test"):
        user = json.loads(production.manage("mfa", "get-user", upn, "--json").stdout)
        assert user["mfaState"] == "Enabled"
