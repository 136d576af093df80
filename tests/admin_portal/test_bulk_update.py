"""bulk update: select a file → verify (every bad line named) → update in the background → results."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal.models import BulkJob, BulkUpload
from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from tests.admin_portal.conftest import bulk_users, streamed_text
from tests.factories import make_user

pytestmark = pytest.mark.django_db
BULK = reverse("admin_portal:bulk_update")


def upload(client: Client, content: bytes, name: str = "users.csv"):
    return client.post(BULK, {"file": SimpleUploadedFile(name, content, "text/csv")}, follow=True)


def state_of(upn: str) -> MfaState:
    return MfaState(UserMfa.objects.get(user__user_principal_name=upn).state)


@pytest.fixture
def people(admin: DirectoryUser) -> None:
    make_user("chris@contoso.test")
    make_user("ben@contoso.test", state=MfaState.ENABLED)
    make_user("dana@contoso.test")


def test_the_page_explains_the_file_and_offers_a_sample(admin_client: Client) -> None:
    html = admin_client.get(BULK).content.decode()
    assert "Select a CSV file" in html
    assert "Username,MFA Status" in html
    sample = admin_client.get(reverse("admin_portal:bulk_sample"))
    assert sample.content.decode().splitlines()[0] == "Username,MFA Status"


def test_a_good_file_verifies_then_updates_in_the_background_with_results(
    admin_client: Client, people: None, django_capture_on_commit_callbacks
) -> None:
    content = (
        "\ufeffUsername,MFA Status\r\n"
        "chris@contoso.test,Enabled\r\n"
        "BEN@contoso.test,disabled\r\n"
        "dana@contoso.test,ENFORCED\r\n"
    ).encode()
    response = upload(admin_client, content)
    html = response.content.decode()
    assert "3 rows are ready to update." in html
    assert "Every line checks out." in html
    # Verifying changes nothing.
    assert state_of("chris@contoso.test") == MfaState.DISABLED
    uploaded = BulkUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        applied = admin_client.post(reverse("admin_portal:bulk_apply", args=[uploaded.pk]))
    assert "Updates successful" in admin_client.get(applied["Location"]).content.decode()
    assert state_of("chris@contoso.test") == MfaState.ENABLED
    assert state_of("ben@contoso.test") == MfaState.DISABLED
    assert state_of("dana@contoso.test") == MfaState.ENFORCED
    job = BulkJob.objects.get()
    assert job.background
    assert AuditEvent.objects.filter(action="mfa.state", source="csv").count() == 3
    results = admin_client.get(reverse("admin_portal:job_results", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(streamed_text(results))))
    assert rows[1:] == [
        ["2", "chris@contoso.test", "Enabled", "Updated", ""],
        ["3", "ben@contoso.test", "Disabled", "Updated", ""],
        ["4", "dana@contoso.test", "Enforced", "Updated", ""],
    ]


def test_bad_lines_are_named_and_the_good_ones_still_apply(
    admin_client: Client, people: None, django_capture_on_commit_callbacks
) -> None:
    make_user("nolicence@contoso.test", is_licensed=False)
    content = (
        b"Username,MFA Status\n"
        b"chris@contoso.test,Enabled\n"
        b"ghost@contoso.test,Enabled\n"
        b"dana@contoso.test,Sometimes\n"
        b"CHRIS@contoso.test,Disabled\n"
        b"nolicence@contoso.test,Enforced\n"
        b"ben@contoso.test,Enabled,extra\n"
        b",Enabled\n"
    )
    html = upload(admin_client, content).content.decode()
    assert "1 row is ready to update." in html
    assert "6 lines have problems and will not be applied." in html
    for line, reason in [
        ("3", "User does not exist in this directory."),
        ("4", "&quot;Sometimes&quot; is not a status. Use Enabled, Enforced or Disabled."),
        ("5", "Duplicate: this user is already on line 2."),
        ("6", "Only licensed users are eligible for multi-factor authentication"),
        ("7", "Expected two values: user name and MFA status."),
        ("8", "The user name is empty."),
    ]:
        assert f"<td>{line}</td>" in html
        assert reason in html
    uploaded = BulkUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin_portal:bulk_apply", args=[uploaded.pk]))
    assert state_of("chris@contoso.test") == MfaState.ENABLED
    assert state_of("dana@contoso.test") == MfaState.DISABLED
    assert state_of("nolicence@contoso.test") == MfaState.DISABLED
    job = BulkJob.objects.get()
    results = admin_client.get(reverse("admin_portal:job_results", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(streamed_text(results))))
    # Every line of the file is accounted for, in file order.
    assert [row[0] for row in rows[1:]] == ["2", "3", "4", "5", "6", "7", "8"]
    assert rows[2][3] == "Not applied: the line is invalid"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"   \n\n", "The file is empty."),
        (b"Name,Status\nchris@contoso.test,Enabled\n", "The first line must be the header"),
        (b"chris@contoso.test,Enabled\n", "The first line must be the header"),
        (
            "Username,MFA Status\nchrïs@contoso.test,Enabled\n".encode("latin-1"),
            "The file is not UTF-8 text",
        ),
        ("Username,MFA Status\n".encode("utf-16"), "The file is not UTF-8 text"),
        (b"Username,MFA Status\nchris\x00@contoso.test,Enabled\n", "NUL bytes"),
        (b"Username,MFA Status\n" + b"x" * 200_000 + b",Enabled\n", "not valid CSV"),
    ],
)
def test_a_file_that_cannot_be_read_gives_a_clear_message_and_changes_nothing(
    admin_client: Client, people: None, content: bytes, message: str
) -> None:
    html = upload(admin_client, content).content.decode()
    assert "The file can't be used, so nothing was changed." in html
    assert message in html
    assert "ready to update" not in html
    uploaded = BulkUpload.objects.get()
    assert (
        admin_client.post(reverse("admin_portal:bulk_apply", args=[uploaded.pk])).status_code == 302
    )
    assert not BulkJob.objects.exists()
    assert state_of("chris@contoso.test") == MfaState.DISABLED


def test_a_file_larger_than_5_mb_is_refused(admin_client: Client, people: None) -> None:
    big = b"Username,MFA Status\n" + b"chris@contoso.test,Enabled\n" * 200_000
    assert len(big) > 5 * 1024 * 1024
    response = admin_client.post(BULK, {"file": SimpleUploadedFile("big.csv", big, "text/csv")})
    assert response.status_code == 413
    assert "The file is larger than 5 MB" in response.content.decode()
    assert not BulkUpload.objects.exists()


def test_a_file_just_over_5_mb_that_slips_past_the_length_check_is_refused_too(
    admin: DirectoryUser,
) -> None:
    from mfaportal.admin_portal.bulk import BulkFileRefused, bulk_upload_verify

    with pytest.raises(BulkFileRefused, match="larger than 5 MB"):
        bulk_upload_verify(data=b"x" * (5 * 1024 * 1024 + 1), file_name="a.csv", actor=admin)
    assert not BulkUpload.objects.exists()


def test_no_file_chosen_asks_for_one(admin_client: Client) -> None:
    html = admin_client.post(BULK, {}).content.decode()
    assert "Choose a CSV file to verify." in html


def test_applying_the_same_file_twice_runs_it_once(
    admin_client: Client, people: None, django_capture_on_commit_callbacks
) -> None:
    upload(admin_client, b"Username,MFA Status\nchris@contoso.test,Enabled\n")
    uploaded = BulkUpload.objects.get()
    apply_url = reverse("admin_portal:bulk_apply", args=[uploaded.pk])
    with django_capture_on_commit_callbacks(execute=True):
        first = admin_client.post(apply_url)
        second = admin_client.post(apply_url)
    assert first["Location"] == second["Location"]
    assert BulkJob.objects.count() == 1
    assert AuditEvent.objects.filter(action="mfa.state").count() == 1


def test_an_upload_belongs_to_the_admin_who_sent_it(admin_client: Client, people: None) -> None:
    upload(admin_client, b"Username,MFA Status\nchris@contoso.test,Enabled\n")
    uploaded = BulkUpload.objects.get()
    other = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    other_client = Client()
    other_client.force_login(other)
    assert (
        other_client.get(reverse("admin_portal:bulk_verify", args=[uploaded.pk])).status_code == 404
    )


def test_counts_on_the_verify_page_are_grouped_as_the_reader_writes_numbers(
    admin_client: Client,
) -> None:
    lines = "".join(f"ghost{n}@contoso.test,Enabled\r\n" for n in range(1500))
    response = upload(admin_client, f"Username,MFA Status\r\n{lines}".encode())
    assert "1,500 lines have problems and will not be applied." in response.content.decode()
    verify_url = response.redirect_chain[-1][0]
    spanish = admin_client.get(verify_url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "1\xa0500 líneas tienen problemas y no se aplicarán." in spanish


def test_a_stray_quote_is_an_error_on_its_own_line_and_every_other_line_is_still_checked(
    admin_client: Client,
) -> None:
    users = bulk_users(999)
    lines = [f"{user.user_principal_name},Enabled" for user in users]
    # Line 3 of the file (the second user): a quote opens a value and never closes.
    lines[1] = '"' + lines[1]
    content = ("Username,MFA Status\r\n" + "\r\n".join(lines) + "\r\n").encode()
    assert content.count(b"\r\n") == 1000
    html = upload(admin_client, content).content.decode()
    assert "998 rows are ready to update." in html
    assert "1 line has a problem and will not be applied." in html
    assert "<td>3</td>" in html
    assert "A quote (&quot;) opens a value that does not end on this line." in html
    uploaded = BulkUpload.objects.get()
    assert sorted(row[0] for row in uploaded.rows) == [2, *range(4, 1001)]


def test_a_file_with_only_the_header_says_it_has_no_users(
    admin_client: Client, people: None
) -> None:
    html = upload(admin_client, b"\xef\xbb\xbfUsername,MFA Status\r\n\r\n").content.decode()
    assert "The file has no users" in html
    assert "Every line checks out." not in html
    assert "results file" not in html
    assert "ready to update" not in html
    assert not BulkJob.objects.exists()


def test_an_authentication_policy_administrator_updates_from_a_file_and_a_helpdesk_cannot(
    client: Client, people: None, django_capture_on_commit_callbacks
) -> None:
    content = (
        b"Username,MFA Status\r\nchris@contoso.test,Enabled\r\nadmin@contoso.test,Enforced\r\n"
    )
    client.force_login(
        make_user("apa@contoso.test", admin_role=roles.AUTHENTICATION_POLICY_ADMINISTRATOR)
    )
    assert "2 rows are ready to update." in upload(client, content).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin_portal:bulk_apply", args=[BulkUpload.objects.get().pk]))
    assert state_of("chris@contoso.test") == MfaState.ENABLED
    # The per-user MFA state of an admin too: that is the policy administrator's to set.
    assert state_of("admin@contoso.test") == MfaState.ENFORCED

    client.force_login(make_user("hd@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR))
    page = client.get(BULK).content.decode()
    assert 'type="file"' not in page and "reads this page only" in page
    refused = client.post(BULK, {"file": SimpleUploadedFile("u.csv", content, "text/csv")})
    assert refused.status_code == 403
    assert BulkUpload.objects.count() == 1
