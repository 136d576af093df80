from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import HardwareOathToken, MfaState
from mfaportal.mfa.selectors import user_summary

pytestmark = pytest.mark.django_db


def tenant_snapshot() -> list[dict[str, object]]:
    return [user_summary(user) for user in DirectoryUser.objects.order_by("user_principal_name")]


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seeding_twice_gives_the_same_tenant() -> None:
    seed("--users", "120")
    first = tenant_snapshot()
    output = seed("--users", "120")
    assert tenant_snapshot() == first
    assert "0 users created" in output
    assert len(first) == 128  # the eight named accounts and 120 more


def test_the_named_accounts_start_disabled_and_sign_in_with_the_printed_password() -> None:
    output = seed("--users", "5", "--password", "Another-Pass-7")
    assert "Another-Pass-7" in output
    for upn, role in (
        ("admin@contoso.test", ["Global Administrator"]),
        ("helpdesk@contoso.test", ["Authentication Administrator"]),
        ("policy@contoso.test", ["Authentication Policy Administrator"]),
        ("privileged@contoso.test", ["Privileged Authentication Administrator"]),
        ("reader@contoso.test", ["Global Reader"]),
        ("security@contoso.test", ["Security Reader"]),
        ("reports@contoso.test", ["Reports Reader"]),
        ("adele@contoso.test", []),
    ):
        assert upn in output
        user = DirectoryUser.objects.get(user_principal_name=upn)
        summary = user_summary(user)
        assert summary["mfaState"] == "Disabled" and summary["roles"] == role
        assert summary["strongAuthenticationMethods"] == []
        assert user.check_password("Another-Pass-7")


def test_reseeding_with_a_new_password_makes_the_new_password_work() -> None:
    seed("--users", "3", "--password", "First-Pass-1")
    seed("--users", "3", "--password", "Second-Pass-2")
    assert DirectoryUser.objects.get(user_principal_name="adele@contoso.test").check_password(
        "Second-Pass-2"
    )


def test_the_tenant_is_realistic() -> None:
    seed("--users", "400")
    names = set(DirectoryUser.objects.values_list("display_name", flat=True))
    assert any("<" in name for name in names) and any("&" in name for name in names)
    assert any('"' in name for name in names) and any(not name.isascii() for name in names)
    states = {summary["mfaState"] for summary in tenant_snapshot()}
    assert states == {state.name.capitalize() for state in MfaState}
    assert DirectoryUser.objects.filter(account_enabled=False).exists()
    assert DirectoryUser.objects.filter(is_licensed=False).exists()
    assert DirectoryUser.objects.filter(roles__isnull=False).count() > 2


def test_the_demo_has_spare_hardware_tokens_to_assign_once_however_often_seeded() -> None:
    """Issue 16.3: `make demo` shows hardware tokens: two spares an admin can assign (the
    authenticator simulator shows an assigned token's code)."""
    seed("--users", "5")
    seed("--users", "5")
    spares = HardwareOathToken.objects.order_by("serial_number")
    assert [(t.serial_number, t.user_id, t.time_interval) for t in spares] == [
        ("DEMO-0001", None, 30),
        ("DEMO-0002", None, 60),
    ]
