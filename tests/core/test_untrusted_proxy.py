"""A proxy nobody listed in MFAPORTAL_TRUSTED_PROXIES is said loudly, and never makes its
clients trusted (issue 14, finding 1).

Behind such a proxy every client looks like the proxy: its failures lock everyone out, the
audit shows one address, and with the proxy's (internal) address in the trusted ranges an
outside client would skip the second factor. The portal warns in the log (once per
process), on the admin pages, and in ``check --deploy``; trusted IPs are not applied to a
request whose client can't be known.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.core.checks import run_checks
from django.test import Client, override_settings
from django.urls import reverse

from mfaportal.core import client_ip
from mfaportal.core.models import AuditEvent
from mfaportal.core.roles import GLOBAL_ADMINISTRATOR
from mfaportal.mfa.models import MfaState
from tests.factories import PASSWORD, make_user
from tests.selfservice.helpers import service_set

PROXY = "127.0.0.1"
OUTSIDE = "198.51.100.7"
BANNER = "is not in MFAPORTAL_TRUSTED_PROXIES"


@pytest.fixture(autouse=True)
def fresh_process() -> Iterator[None]:
    """As in a newly started worker: nothing seen, nothing logged yet."""
    client_ip._last_noted.update(logged=False, at=0.0)
    cache.delete(client_ip.UNTRUSTED_FORWARDING_KEY)
    yield
    client_ip._last_noted.update(logged=False, at=0.0)
    cache.delete(client_ip.UNTRUSTED_FORWARDING_KEY)


def through_the_proxy() -> Client:
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=OUTSIDE)


def admin_client(client: Client) -> Client:
    client.force_login(make_user("admin@contoso.test", admin_role=GLOBAL_ADMINISTRATOR))
    return client


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[])
def test_admins_see_a_banner_when_an_unlisted_proxy_forwards_requests() -> None:
    response = admin_client(through_the_proxy()).get(reverse("admin_portal:users"))
    body = response.content.decode()
    assert BANNER in body and PROXY in body


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[])
def test_the_banner_stays_after_the_proxy_was_seen_even_on_a_direct_request() -> None:
    make_user("adele@contoso.test")
    through_the_proxy().post(reverse("signin"), {"username": "adele@contoso.test", "password": "x"})
    response = admin_client(Client(REMOTE_ADDR="192.0.2.10")).get(reverse("admin_portal:users"))
    assert BANNER in response.content.decode()


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_no_banner_when_the_proxy_is_listed() -> None:
    response = admin_client(through_the_proxy()).get(reverse("admin_portal:users"))
    assert BANNER not in response.content.decode()


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[])
def test_ordinary_users_never_see_the_banner() -> None:
    client = through_the_proxy()
    client.force_login(make_user("adele@contoso.test"))
    response = client.get("/mfa/setup/")
    assert response.status_code == 200
    assert BANNER not in response.content.decode()


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[])
def test_the_log_warns_once_per_process_not_per_request(caplog: pytest.LogCaptureFixture) -> None:
    make_user("adele@contoso.test")
    with caplog.at_level(logging.WARNING, logger="mfaportal.core.client_ip"):
        for _attempt in range(3):
            through_the_proxy().post(
                reverse("signin"), {"username": "adele@contoso.test", "password": "x"}
            )
    warnings = [r for r in caplog.records if r.name == "mfaportal.core.client_ip"]
    assert len(warnings) == 1
    assert "MFAPORTAL_TRUSTED_PROXIES" in warnings[0].getMessage()


@override_settings(DEBUG=False, MFAPORTAL_TRUSTED_PROXIES=[])
def test_check_deploy_warns_when_no_proxy_is_trusted_in_production() -> None:
    found = [m for m in run_checks(include_deployment_checks=True) if m.id == "mfaportal.W001"]
    assert len(found) == 1 and "MFAPORTAL_TRUSTED_PROXIES" in found[0].msg


@override_settings(DEBUG=False, MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_check_deploy_is_quiet_when_the_proxy_is_listed() -> None:
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id == "mfaportal.W001"]


# --- trusted IPs use the real client -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("proxies", [[f"{PROXY}/32"], []], ids=["listed", "not listed"])
def test_behind_the_proxy_an_outside_client_is_not_trusted_for_being_the_proxy(
    proxies: list[str],
) -> None:
    """The proxy's own address is in the trusted ranges: an Enforced user coming from
    outside through it still answers the second factor, whether or not the proxy is listed."""
    service_set(trusted_ip_ranges="127.0.0.0/8")
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    with override_settings(MFAPORTAL_TRUSTED_PROXIES=proxies):
        client = through_the_proxy()
        response = client.post(
            reverse("signin"), {"username": "adele@contoso.test", "password": PASSWORD}
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("signin_flow:verify")
        assert "_auth_user_id" not in client.session
        token = base64.b64encode(f"adele@contoso.test:{PASSWORD}".encode()).decode()
        legacy = client.get("/legacy/auth", HTTP_AUTHORIZATION=f"Basic {token}")
        assert legacy.status_code == 401


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_behind_a_listed_proxy_a_client_inside_the_trusted_range_skips_the_second_factor() -> None:
    service_set(trusted_ip_ranges="203.0.113.0/24")
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.40")
    client.post(reverse("signin"), {"username": "adele@contoso.test", "password": PASSWORD})
    assert "_auth_user_id" in client.session


@pytest.mark.django_db
@override_settings(MFAPORTAL_TRUSTED_PROXIES=[f"{PROXY}/32"])
def test_behind_a_listed_proxy_the_audit_records_the_client_not_the_proxy() -> None:
    user = make_user("adele@contoso.test")
    client = admin_client(through_the_proxy())
    client.post(reverse("admin_portal:step", args=["enable"]), {"u": user.pk})
    addresses = set(AuditEvent.objects.values_list("ip_address", flat=True))
    assert addresses == {OUTSIDE}
