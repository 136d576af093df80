"""bulk update stays bounded (issue 14, finding 4): a file over the limits is refused and
nothing of it kept, the lines that will not apply are paged, and applying a large file
writes in short transactions so that sign-ins go on while it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection, transaction
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal.bulk import bulk_upload_verify
from mfaportal.admin_portal.jobs import bulk_update_job_create, job_kind, job_run
from mfaportal.admin_portal.models import BulkJob, BulkJobRow, BulkUpload, BulkUploadError
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from tests.admin_portal.conftest import bulk_users
from tests.factories import PASSWORD, make_user

BULK = reverse("admin_portal:bulk_update")
T = TypeVar("T")


def upload(client: Client, content: bytes) -> Any:
    return client.post(BULK, {"file": SimpleUploadedFile("users.csv", content, "text/csv")})


def bulk_file(lines: list[str]) -> bytes:
    return ("Username,MFA Status\r\n" + "".join(f"{line}\r\n" for line in lines)).encode()


def ghosts(count: int) -> list[str]:
    return [f"ghost{number:06d}@contoso.test,Enabled" for number in range(count)]


@pytest.mark.django_db
def test_the_page_states_the_limits(admin_client: Client) -> None:
    html = admin_client.get(BULK).content.decode()
    assert "up to 5 MB and 100,000 users" in html


@pytest.mark.django_db
def test_a_file_with_more_than_100000_users_is_refused_and_nothing_is_kept(
    admin_client: Client,
) -> None:
    response = upload(admin_client, bulk_file(ghosts(100_001)))
    assert response.status_code == 413
    assert "The file has more than 100,000 users. Split it into smaller files." in (
        response.content.decode()
    )
    assert not BulkUpload.objects.exists()
    assert not BulkUploadError.objects.exists()


@pytest.mark.django_db
def test_a_file_of_exactly_100000_users_is_checked(admin_client: Client) -> None:
    response = upload(admin_client, bulk_file(ghosts(100_000)))
    assert response.status_code == 302
    assert BulkUpload.objects.get().error_count == 100_000


@pytest.mark.django_db
def test_the_verify_page_pages_the_lines_that_will_not_apply_with_their_total(
    admin_client: Client,
) -> None:
    verify_url = upload(admin_client, bulk_file(ghosts(250)))["Location"]
    first = admin_client.get(verify_url).content.decode()
    assert "250 lines have problems and will not be applied." in first
    assert "Page 1 of 3" in first
    assert first.count("<tr><td>") == 100
    assert "<td>101</td>" in first and "<td>102</td>" not in first
    last = admin_client.get(verify_url + "?page=3").content.decode()
    assert "Page 3 of 3" in last
    assert last.count("<tr><td>") == 50
    assert "<td>202</td>" in last and "<td>251</td>" in last and "<td>201</td>" not in last
    # A page number out of range or not a number shows the nearest page, never an error.
    assert "Page 3 of 3" in admin_client.get(verify_url + "?page=99").content.decode()
    assert "Page 1 of 3" in admin_client.get(verify_url + "?page=x").content.decode()
    assert "results file" not in first


class TransactionSizes:
    """The most rows a single transaction wrote into each of the given tables."""

    def __init__(self, tables: list[str]) -> None:
        self.tables = tables
        self.largest = dict.fromkeys(tables, 0)
        self._open = dict.fromkeys(tables, 0)
        self._counting = False

    def _close(self) -> None:
        for table, rows in self._open.items():
            self.largest[table] = max(self.largest[table], rows)
            self._open[table] = 0
        self._counting = False

    @staticmethod
    def _rows(sql: str, params: Any) -> int:
        if "UNNEST" in sql:  # PostgreSQL: one array of values per column
            return len(params[0])
        return sql.count("), (") + 1

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ):
        result = execute(sql, params, many, context)
        for table in self.tables:
            if sql.startswith(f'INSERT INTO "{table}"'):
                self._open[table] += self._rows(sql, params)
                if not connection.in_atomic_block:
                    self._close()
                elif not self._counting:
                    self._counting = True
                    transaction.on_commit(self._close)
        return result


@pytest.fixture
def transaction_sizes() -> Iterator[TransactionSizes]:
    sizes = TransactionSizes(["admin_portal_bulkjobrow", "admin_portal_bulkuploaderror"])
    with connection.execute_wrapper(sizes):
        yield sizes


@pytest.mark.django_db(transaction=True)
def test_a_large_file_is_checked_and_applied_in_short_transactions(
    admin: DirectoryUser, transaction_sizes: TransactionSizes
) -> None:
    users = bulk_users(1500)
    lines = [f"{user.user_principal_name},Enforced" for user in users] + ghosts(3500)
    verified = bulk_upload_verify(data=bulk_file(lines), file_name="big.csv", actor=admin)
    assert (verified.row_count, verified.error_count) == (1500, 3500)
    job = bulk_update_job_create(upload=verified, actor=admin, ip_address=None)
    job_run(job.pk)
    job.refresh_from_db()
    assert job.status == BulkJob.Status.SUCCEEDED
    assert job.rows.filter(outcome=BulkJobRow.Outcome.INVALID).count() == 3500
    assert job.rows.filter(outcome=BulkJobRow.Outcome.CHANGED).count() == 1500
    assert transaction_sizes.largest == {
        "admin_portal_bulkjobrow": 1000,
        "admin_portal_bulkuploaderror": 1000,
    }


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_job_copies_each_invalid_line_once_when_it_resumes(
    admin: DirectoryUser,
) -> None:
    users = bulk_users(10)
    lines = [f"{user.user_principal_name},Enabled" for user in users] + ghosts(2500)
    verified = bulk_upload_verify(data=bulk_file(lines), file_name="big.csv", actor=admin)
    job = bulk_update_job_create(upload=verified, actor=admin, ip_address=None)
    # A worker copied the first chunk of invalid lines, then stopped (a restart).
    with transaction.atomic():
        assert job_kind(job).prepare(BulkJob.objects.get(pk=job.pk))
    assert job.rows.count() == 1000
    job_run(job.pk)
    lines_recorded = list(job.rows.values_list("line", flat=True))
    assert len(lines_recorded) == len(set(lines_recorded)) == 2510


class WaitLikeAFileDatabase:
    """The in-memory SQLite test database (shared cache) answers "table is locked" at once
    where a file database waits for its busy timeout. Installed on a thread's connection, this
    retries a locked statement the same way, for up to ``budget`` seconds: the sign-in must
    get through within it, whatever the apply is doing."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ):
        deadline = time.monotonic() + self.budget
        while True:
            try:
                return execute(sql, params, many, context)
            except OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.002)


def started_in_a_thread(
    call: Callable[[], Any], failures: list[BaseException], *, budget: float
) -> threading.Thread:
    """``call`` running in a started thread on its own connection, which waits for a locked
    database as a file database would (up to ``budget`` seconds); what it raises goes into
    ``failures``."""

    def run() -> None:
        try:
            with connection.execute_wrapper(WaitLikeAFileDatabase(budget=budget)):
                call()
        except BaseException as error:
            failures.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _signs_in() -> bool:
    response = Client().post(
        reverse("signin"), {"username": "adele@contoso.test", "password": PASSWORD}
    )
    return response.status_code == 302 and response["Location"] == "/"


def _progress() -> tuple[str, int, int] | None:
    return BulkJob.objects.values_list("status", "invalid_copied_to", "done").first()


@pytest.mark.django_db(transaction=True)
def test_sign_in_works_while_a_100000_line_file_is_applied(admin: DirectoryUser) -> None:
    make_user("adele@contoso.test")
    users = bulk_users(2000)
    lines = [f"{user.user_principal_name},Enforced" for user in users] + ghosts(98_000)
    verified = bulk_upload_verify(data=bulk_file(lines), file_name="big.csv", actor=admin)
    assert (verified.row_count, verified.error_count) == (2000, 98_000)
    failures: list[BaseException] = []

    def apply() -> None:
        # As the page does: create the job (a request), then the worker applies it.
        job = bulk_update_job_create(upload=verified, actor=admin, ip_address=None)
        BulkJob.objects.filter(pk=job.pk).update(background=True)
        job_run(job.pk)

    worker = started_in_a_thread(apply, failures, budget=20)
    signed_in_during_the_apply = 0
    try:
        # A sign-in waits for at most a chunk of the apply, never for the whole file.
        with connection.execute_wrapper(WaitLikeAFileDatabase(budget=10)):
            while worker.is_alive():
                before = _progress()
                assert _signs_in()
                after = _progress()
                running = before and after and before[0] == after[0] == BulkJob.Status.RUNNING
                if running and before != after:
                    signed_in_during_the_apply += 1
    finally:
        worker.join()
    assert not failures, failures
    job = BulkJob.objects.get()
    assert job.status == BulkJob.Status.SUCCEEDED, job.error
    assert signed_in_during_the_apply >= 3
    assert UserMfa.objects.filter(state=MfaState.ENFORCED).count() == 2000
