"""service settings: Microsoft's sections, validated before anything is saved."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal.forms import trusted_ranges_parse
from mfaportal.core.models import AuditEvent
from mfaportal.mfa.models import ServiceSettings

pytestmark = pytest.mark.django_db
SETTINGS = reverse("admin_portal:service_settings")

GOOD: dict[str, Any] = {
    "app_passwords": "allow",
    "trusted_ip_ranges": "192.168.1.0/27\n2001:db8::/48\n",
    "method_call": "on",
    "method_text": "on",
    "method_app_notification": "on",
    "method_app_code": "on",
    "remember_devices_allowed": "on",
    "remember_devices_days": "90",
    "fraud_report_allowed": "on",
}


def post(client: Client, **changes: Any):
    data = {**GOOD, **changes}
    return client.post(SETTINGS, {k: v for k, v in data.items() if v is not None})


def test_the_tab_shows_microsofts_sections_and_current_values(admin_client: Client) -> None:
    html = admin_client.get(SETTINGS).content.decode()
    for text in (
        "app passwords",
        "Allow users to create app passwords to sign in to non-browser apps",
        "Do not allow users to create app passwords to sign in to non-browser apps",
        "trusted ips",
        "Skip multi-factor authentication for requests from federated users on my intranet",
        "Skip multi-factor authentication for requests from following range of IP address subnets",
        "verification options",
        "Call to phone",
        "Text message to phone",
        "Notification through mobile app",
        "Verification code from mobile app or hardware token",
        "remember multi-factor authentication on trusted device",
        'value="14"',
    ):
        assert text in html


def test_saving_valid_settings_stores_them_audits_them_and_says_updates_successful(
    admin_client: Client,
) -> None:
    response = post(admin_client, method_text=None)
    assert response.status_code == 302
    saved = ServiceSettings.load()
    assert saved.app_passwords_allowed
    assert not saved.method_text
    assert saved.remember_devices_allowed
    assert saved.remember_devices_days == 90
    assert saved.trusted_ip_ranges == "192.168.1.0/27\n2001:db8::/48"
    assert "Updates successful" in admin_client.get(SETTINGS).content.decode()
    changed = set(
        AuditEvent.objects.filter(action="settings.updated").values_list(
            "detail__setting", flat=True
        )
    )
    assert {"app_passwords_allowed", "method_text", "remember_devices_days"} <= changed


def test_saving_the_same_settings_again_records_nothing_new(admin_client: Client) -> None:
    post(admin_client)
    count = AuditEvent.objects.count()
    post(admin_client)
    assert AuditEvent.objects.count() == count


@pytest.mark.parametrize("days", ["0", "366", "-1", "abc", "", "1.5"])
def test_remember_days_must_be_1_to_365(admin_client: Client, days: str) -> None:
    response = post(admin_client, remember_devices_days=days)
    assert response.status_code == 200
    assert "Enter a number of days from 1 to 365." in response.content.decode()
    assert ServiceSettings.load().remember_devices_days == 14


@pytest.mark.parametrize("days", ["1", "365"])
def test_remember_days_bounds_are_accepted(admin_client: Client, days: str) -> None:
    assert post(admin_client, remember_devices_days=days).status_code == 302
    assert ServiceSettings.load().remember_devices_days == int(days)


def test_at_least_one_verification_option_must_stay(admin_client: Client) -> None:
    response = post(
        admin_client,
        method_call=None,
        method_text=None,
        method_app_notification=None,
        method_app_code=None,
    )
    assert "Keep at least one verification option" in response.content.decode()
    assert ServiceSettings.load().method_call


def test_bad_trusted_ip_lines_are_named_and_nothing_is_saved(admin_client: Client) -> None:
    response = post(
        admin_client,
        trusted_ip_ranges="10.0.0.0/8\nnot-an-ip\n10.0.0.5/24\n\n2001:db8::/200\n<b>x</b>",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Line 2: &quot;not-an-ip&quot; is not an IPv4 or IPv6 range" in html
    assert "Line 3: &quot;10.0.0.5/24&quot; has bits set after the prefix length" in html
    assert "Did you mean 10.0.0.0/24?" in html
    assert "Line 5: &quot;2001:db8::/200&quot;" in html
    assert "Line 6: &quot;&lt;b&gt;x&lt;/b&gt;&quot;" in html
    # What the admin typed is kept in the box for fixing.
    assert "not-an-ip" in html.split("<textarea", 1)[1]
    assert ServiceSettings.load().trusted_ip_ranges == ""


def test_at_most_fifty_trusted_ranges(admin_client: Client) -> None:
    ranges = "\n".join(f"10.0.{n}.0/24" for n in range(51))
    html = post(admin_client, trusted_ip_ranges=ranges).content.decode()
    assert "At most 50 ranges are allowed; there are 51." in html
    assert (
        post(admin_client, trusted_ip_ranges="\n".join(ranges.splitlines()[:50])).status_code == 302
    )


def test_trusted_ranges_are_normalised() -> None:
    ranges, errors = trusted_ranges_parse(
        " 192.168.1.0/27 \n\n203.0.113.7\n2001:DB8::/32\n192.168.1.0/27\n::1"
    )
    assert errors == []
    assert ranges == ["192.168.1.0/27", "203.0.113.7/32", "2001:db8::/32", "::1/128"]


def test_app_passwords_can_be_disallowed(admin_client: Client) -> None:
    post(admin_client, app_passwords="deny")
    assert not ServiceSettings.load().app_passwords_allowed
    html = post(admin_client, app_passwords="maybe").content.decode()
    assert "Select a valid choice" in html
