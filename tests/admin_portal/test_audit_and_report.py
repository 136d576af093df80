"""The audit log page and the MFA status report export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from tests.admin_portal.conftest import bulk_users, streamed_text
from tests.factories import make_user

pytestmark = pytest.mark.django_db
AUDIT = reverse("admin_portal:audit")
REPORT = reverse("admin_portal:users_report")


@pytest.fixture
def history(admin: DirectoryUser, helpdesk: DirectoryUser) -> dict[str, DirectoryUser]:
    pat = make_user("pat@contoso.test")
    lee = make_user("lee@contoso.test")
    audit_record(
        ChangeContext(actor=admin, source=AuditSource.PAGE, ip_address="203.0.113.9"),
        AuditEntry.about(pat, "mfa.state", before="Disabled", after="Enabled"),
    )
    audit_record(
        ChangeContext(actor=helpdesk, source=AuditSource.PAGE),
        AuditEntry.about(lee, "mfa.app_passwords_deleted", before="2", after="0"),
    )
    old = audit_record(
        ChangeContext(actor=None, source=AuditSource.CLI),
        AuditEntry.about(lee, "mfa.state", before="Enabled", after="Enforced"),
    )
    AuditEvent.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=40))
    return {"pat": pat, "lee": lee}


def rows(response) -> int:
    return response.content.decode().split("<tbody>", 1)[1].split("</tbody>")[0].count("<tr>")


def test_audit_log_lists_every_change_newest_first(admin_client: Client, history) -> None:
    html = admin_client.get(AUDIT).content.decode()
    assert rows(admin_client.get(AUDIT)) == 3
    assert html.index("2 app passwords deleted.") < html.index("changed from Disabled to Enabled.")
    assert "203.0.113.9" in html
    assert "(CLI)" in html


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"actor": "admin@contoso.test"}, 1),
        ({"actor": "HELPDESK@contoso.test"}, 1),
        ({"actor": "(CLI)"}, 1),
        ({"target": "lee@contoso.test"}, 2),
        ({"action": "mfa.state"}, 2),
        ({"action": "mfa."}, 3),
        ({"source": "cli"}, 1),
        ({"date_from": (timezone.now() - timedelta(days=1)).date().isoformat()}, 2),
        ({"date_to": (timezone.now() - timedelta(days=30)).date().isoformat()}, 1),
        ({"target": "nobody@contoso.test"}, 0),
        ({"action": "%"}, 0),
    ],
)
def test_audit_log_filters(admin_client: Client, history, params, count) -> None:
    assert rows(admin_client.get(AUDIT, params)) == (count or 1)  # 1 = the "No events" row
    if not count:
        assert "No events match." in admin_client.get(AUDIT, params).content.decode()


def test_audit_log_refuses_a_backwards_date_range(admin_client: Client, history) -> None:
    html = admin_client.get(
        AUDIT, {"date_from": "2026-05-02", "date_to": "2026-05-01"}
    ).content.decode()
    assert "The start date is after the end date." in html


def test_audit_log_pages_by_keyset(admin_client: Client, admin: DirectoryUser) -> None:
    pat = make_user("pat@contoso.test")
    context = ChangeContext(actor=admin, source=AuditSource.PAGE)
    for number in range(60):
        audit_record(context, AuditEntry.about(pat, "mfa.state", after=str(number)))
    first = admin_client.get(AUDIT, {"target": "pat@contoso.test"})
    assert rows(first) == 50
    html = first.content.decode()
    next_url = (
        html.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    )
    second = admin_client.get(next_url)
    assert rows(second) == 10
    # The ten oldest: the 10th event (after "9") opens the second page.
    assert "Multi-factor auth status set to 9." in second.content.decode()
    assert "Multi-factor auth status set to 9." not in html


def test_status_report_exports_every_user_of_the_view_as_csv(
    admin_client: Client, admin: DirectoryUser
) -> None:
    make_user(
        "enf@contoso.test", display_name="Enforced One", state=MfaState.ENFORCED, registered=True
    )
    make_user("dis@contoso.test", display_name="Disabled One")
    bulk_users(120, prefix="many", state=MfaState.ENFORCED)
    response = admin_client.get(REPORT, {"status": "enforced"})
    assert response.streaming
    assert response["Content-Disposition"].startswith('attachment; filename="mfa-status-report-')
    table = list(csv.reader(io.StringIO(streamed_text(response))))
    assert table[0][:3] == ["UserPrincipalName", "DisplayName", "ObjectId"]
    upns = [row[0] for row in table[1:]]
    assert len(upns) == 121
    assert "enf@contoso.test" in upns
    assert "dis@contoso.test" not in upns
    enforced = next(row for row in table if row[0] == "enf@contoso.test")
    assert enforced[6] == "Enforced"
    assert AuditEvent.objects.filter(action="report.exported", actor=admin).exists()


def test_status_report_neutralises_formula_cells(
    admin_client: Client, admin: DirectoryUser
) -> None:
    for number, name in enumerate(['=HYPERLINK("http://evil.test")', "+1", "-2", "@SUM(A1)"]):
        make_user(f"f{number}@contoso.test", display_name=name)
    table = list(csv.reader(io.StringIO(streamed_text(admin_client.get(REPORT, {"q": "f"})))))
    names = sorted(row[1] for row in table[1:])
    assert names == sorted(['\'=HYPERLINK("http://evil.test")', "'+1", "'-2", "'@SUM(A1)"])


def test_the_report_link_carries_the_current_filter(admin_client: Client, admin) -> None:
    html = admin_client.get(
        reverse("admin_portal:users"), {"status": "enabled", "q": "x y"}
    ).content
    assert b'href="/admin/users/report.csv?status=enabled&amp;q=x+y"' in html
