"""The admin Sign-ins page and the user detail page's recent sign-ins (issue 16.5)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import SignInAsked, SignInClient, SignInEvent, SignInReason, SignInResult
from mfaportal.mfa.services.signin_log import signin_record
from tests.admin_portal.conftest import streamed_text
from tests.factories import make_user

pytestmark = pytest.mark.django_db
SIGNINS = reverse("admin_portal:signins")
CSV = reverse("admin_portal:signins_csv")


def rows(response) -> int:
    return response.content.decode().split("<tbody>", 1)[1].split("</tbody>")[0].count("<tr>")


def attempt(
    user: DirectoryUser | None,
    result: SignInResult,
    *,
    reason: SignInReason = SignInReason.NONE,
    typed: str = "",
    address: str = "198.51.100.4",
    days_ago: int = 0,
) -> None:
    signin_record(
        client=SignInClient.BROWSER,
        asked=SignInAsked.PASSWORD,
        result=result,
        reason=reason,
        user=user,
        typed_name=typed,
        address=address,
    )
    if days_ago:
        SignInEvent.objects.filter(pk=SignInEvent.objects.latest("id").pk).update(
            at=timezone.now() - timedelta(days=days_ago)
        )


@pytest.fixture
def log() -> dict[str, DirectoryUser]:
    pat = make_user("pat@contoso.test")
    lee = make_user("lee@contoso.test")
    attempt(pat, SignInResult.FAILURE, reason=SignInReason.WRONG_PASSWORD, address="203.0.113.5")
    attempt(pat, SignInResult.SUCCESS)
    attempt(lee, SignInResult.SUCCESS, days_ago=10)
    attempt(
        None, SignInResult.FAILURE, reason=SignInReason.UNKNOWN_USER, typed="ghost@contoso.test"
    )
    return {"pat": pat, "lee": lee}


def test_the_sign_ins_page_lists_every_attempt_with_its_reason(admin_client: Client, log) -> None:
    response = admin_client.get(SIGNINS)
    html = response.content.decode()
    assert rows(response) == 4
    assert "Wrong password" in html and "Unknown user" in html and "ghost@contoso.test" in html
    assert "203.0.113.5" in html


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"result": "failure"}, 2),
        ({"result": "success"}, 2),
        ({"user": "PAT@contoso.test"}, 2),
        ({"user": "ghost@contoso.test"}, 1),
        ({"address": "203.0.113.5"}, 1),
        ({"address": "::ffff:203.0.113.5"}, 1),
        ({"date_to": (timezone.localdate() - timedelta(days=5)).isoformat()}, 1),
        ({"date_from": (timezone.localdate() - timedelta(days=5)).isoformat()}, 3),
        ({"user": "pat@contoso.test", "result": "failure"}, 1),
        ({"user": "nobody@contoso.test"}, 0),
    ],
)
def test_the_sign_ins_page_filters(admin_client: Client, log, params, count) -> None:
    response = admin_client.get(SIGNINS, params)
    assert rows(response) == (count or 1)  # 1 = the "No sign-ins match." row
    if not count:
        assert "No sign-ins match." in response.content.decode()


def test_a_bad_address_or_date_range_says_so_and_filters_nothing(admin_client: Client, log) -> None:
    bad = admin_client.get(SIGNINS, {"address": "not-an-address"})
    assert "Enter a valid IPv4 or IPv6 address." in bad.content.decode()
    backwards = admin_client.get(SIGNINS, {"date_from": "2026-12-02", "date_to": "2026-12-01"})
    assert "The start date is after the end date." in backwards.content.decode()
    assert rows(bad) == rows(backwards) == 4


def test_the_sign_ins_page_pages_by_keyset(admin_client: Client) -> None:
    pat = make_user("pat@contoso.test")
    for number in range(60):
        attempt(pat, SignInResult.SUCCESS, address=f"10.0.0.{number + 1}")
    first = admin_client.get(SIGNINS, {"user": "pat@contoso.test"})
    assert rows(first) == 50
    html = first.content.decode()
    next_url = (
        html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    )
    second = admin_client.get(next_url)
    assert rows(second) == 10
    assert ">10.0.0.1<" in second.content.decode() and ">10.0.0.1<" not in html


def test_the_sign_ins_page_does_not_count_or_grow_its_queries(
    admin_client: Client, log, django_assert_max_num_queries
) -> None:
    admin_client.get(SIGNINS)
    with django_assert_max_num_queries(8):
        admin_client.get(SIGNINS, {"user": "pat@contoso.test", "result": "failure"})


def test_the_csv_export_holds_the_filtered_attempts_and_is_audited(
    admin_client: Client, log
) -> None:
    response = admin_client.get(CSV, {"result": "failure"})
    assert response["Content-Disposition"].startswith('attachment; filename="sign-ins-')
    table = list(csv.reader(io.StringIO(streamed_text(response))))
    assert table[0] == [
        "Date (UTC)",
        "User",
        "Client",
        "Asked",
        "Result",
        "Failure reason",
        "Address",
    ]
    assert sorted((row[1], row[4], row[5]) for row in table[1:]) == [
        ("ghost@contoso.test", "failure", "unknown_user"),
        ("pat@contoso.test", "failure", "wrong_password"),
    ]
    assert AuditEvent.objects.filter(action="signin_log.exported").count() == 1


def test_the_csv_export_neutralises_a_typed_formula(admin_client: Client) -> None:
    attempt(None, SignInResult.FAILURE, reason=SignInReason.UNKNOWN_USER, typed="=HYPERLINK(1)")
    table = list(csv.reader(io.StringIO(streamed_text(admin_client.get(CSV)))))
    assert table[1][1] == "'=HYPERLINK(1)"


def test_the_page_link_to_the_csv_carries_the_filters(admin_client: Client, log) -> None:
    html = admin_client.get(SIGNINS, {"result": "failure"}).content.decode()
    assert f'href="{CSV}?result=failure"' in html


def test_the_user_detail_page_shows_the_users_recent_sign_ins(admin_client: Client, log) -> None:
    pat = log["pat"]
    for _number in range(55):
        attempt(pat, SignInResult.SUCCESS)
    html = admin_client.get(
        reverse("admin_portal:user_detail", kwargs={"object_id": pat.object_id})
    ).content.decode()
    section = html.split('id="signins-title"', 1)[1].split("</section>", 1)[0]
    assert section.count("<tr>") == 51  # the header and the 50 most recent
    assert "Wrong password" not in section  # the oldest of pat's 57 is not among them
    assert f"{SIGNINS}?user=pat%40contoso.test" in section
    lee_html = admin_client.get(
        reverse("admin_portal:user_detail", kwargs={"object_id": log["lee"].object_id})
    ).content.decode()
    lee_section = lee_html.split('id="signins-title"', 1)[1].split("</section>", 1)[0]
    assert lee_section.count("<tr>") == 2


def test_an_ordinary_user_cannot_read_the_sign_in_log(client: Client, log) -> None:
    client.force_login(log["pat"])
    assert client.get(SIGNINS).status_code == 403
    assert client.get(CSV).status_code == 403
