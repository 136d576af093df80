from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mfaportal.core import roles
from mfaportal.mfa.models import AppPassword, MfaState, UserMfa
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("mfa", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_get_user_prints_the_documented_json_shape() -> None:
    user = make_user(
        "Megan.Bowen@contoso.test",
        display_name="Megan Bowen",
        state=MfaState.ENFORCED,
        registered=True,
        admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
    )
    AppPassword.objects.create(user=user, name="Outlook", digest="d" * 64)
    data = json.loads(run("get-user", "megan.bowen@CONTOSO.test", "--json"))
    assert data == {
        "userPrincipalName": "Megan.Bowen@contoso.test",
        "displayName": "Megan Bowen",
        "objectId": str(user.object_id),
        "accountEnabled": True,
        "roles": ["Authentication Administrator"],
        "mfaState": "Enforced",
        "strongAuthenticationMethods": [
            {"methodType": "OneWaySMS", "isDefault": True},
            {"methodType": "TwoWayVoiceMobile", "isDefault": False},
        ],
        "strongAuthenticationRequirements": [
            {"relyingParty": "*", "state": "Enforced", "rememberDevicesNotIssuedBefore": None}
        ],
        "appPasswords": 1,
    }


def test_get_user_lists_no_requirement_for_a_disabled_user() -> None:
    make_user("off@contoso.test")
    data = json.loads(run("get-user", "off@contoso.test", "--json"))
    assert data["mfaState"] == "Disabled" and data["strongAuthenticationRequirements"] == []


def test_get_user_for_an_unknown_user_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="No user"):
        run("get-user", "nobody@contoso.test", "--json")


def test_set_state_by_upn_applies_through_the_service() -> None:
    a, b = make_user("a@contoso.test"), make_user("b@contoso.test", registered=True)
    output = run("set-state", "--state", "enabled", "a@contoso.test", "B@contoso.test")
    assert UserMfa.objects.get(user=a).state == MfaState.ENABLED
    assert UserMfa.objects.get(user=b).state == MfaState.ENFORCED
    assert "2 changed" in output


def test_set_state_with_an_unknown_user_changes_nothing() -> None:
    a = make_user("a@contoso.test")
    with pytest.raises(CommandError, match="nothing was changed"):
        run("set-state", "--state", "Enforced", "a@contoso.test", "ghost@contoso.test")
    assert UserMfa.objects.get(user=a).state == MfaState.DISABLED


def test_set_state_rejects_a_bad_state() -> None:
    make_user("a@contoso.test")
    with pytest.raises(CommandError, match="not one of"):
        run("set-state", "--state", "On", "a@contoso.test")


def test_set_state_from_csv_applies_valid_rows_and_reports_bad_lines(tmp_path: Path) -> None:
    a, b = make_user("a@contoso.test"), make_user("b@contoso.test")
    csv_file = tmp_path / "bulk.csv"
    csv_file.write_text("Username,MFA Status\na@contoso.test,Enforced\nb@contoso.test,sometimes\n")
    with pytest.raises(CommandError, match="1 line"):
        run("set-state", "--state", "Enabled", "--csv", str(csv_file))
    assert UserMfa.objects.get(user=a).state == MfaState.ENFORCED
    assert UserMfa.objects.get(user=b).state == MfaState.DISABLED


def test_a_stray_quote_in_a_users_file_is_one_bad_line_and_the_rest_still_apply(
    tmp_path: Path,
) -> None:
    users = [make_user(f"u{number}@contoso.test") for number in range(4)]
    for user in users:
        AppPassword.objects.create(user=user, name="Mail", digest=f"{user.pk:064d}")
    csv_file = tmp_path / "users.csv"
    csv_file.write_text(
        'Username\nu0@contoso.test\n"u1@contoso.test\nu2@contoso.test\nu3@contoso.test\n'
    )
    errors = StringIO()
    with pytest.raises(CommandError, match="1 line"):
        call_command(
            "mfa", "delete-app-passwords", "--csv", str(csv_file), stdout=StringIO(), stderr=errors
        )
    assert errors.getvalue().startswith("line 3: ")
    assert 'A quote (") opens a value' in errors.getvalue()
    left = AppPassword.objects.values_list("user__user_principal_name", flat=True)
    assert list(left) == ["u1@contoso.test"]


def test_set_state_all_applies_to_every_user_matching_the_filter() -> None:
    make_user("adam@contoso.test", display_name="Adam Smith")
    make_user("bob@contoso.test", display_name="Bob Jones")
    run("set-state", "--state", "Enabled", "--all", "--search", "ad")
    states = dict(UserMfa.objects.values_list("user__user_principal_name", "state"))
    assert states == {"adam@contoso.test": MfaState.ENABLED, "bob@contoso.test": MfaState.DISABLED}


def test_report_prints_csv_with_formula_cells_neutralised() -> None:
    make_user("f@contoso.test", display_name="=cmd|' /C calc'!A0")
    lines = run("report", "--format", "csv").splitlines()
    assert lines[0].startswith("UserPrincipalName,DisplayName,ObjectId")
    assert "'=cmd" in lines[1]


def test_reset_methods_requires_registration_again_like_reset_msol_strong_authentication() -> None:
    user = make_user("a@contoso.test", state=MfaState.ENFORCED, registered=True)

    output = run("reset-methods", "A@contoso.test")

    assert "1 changed" in output
    user.refresh_from_db()
    assert not user.methods.exists() and user.mfa.must_register


def test_revoke_sessions_signs_users_out_everywhere() -> None:
    user = make_user("a@contoso.test")

    run("revoke-sessions", "a@contoso.test")

    user.refresh_from_db()
    assert user.session_version == 1


def test_delete_app_passwords_from_a_csv_of_user_names(tmp_path: Path) -> None:
    a, b = make_user("a@contoso.test"), make_user("b@contoso.test")
    for user in (a, b):
        AppPassword.objects.create(user=user, name="Outlook", digest=f"{user.pk:064d}")
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("Username\na@contoso.test\nghost@contoso.test\n")

    with pytest.raises(CommandError, match="1 line"):
        run("delete-app-passwords", "--csv", str(csv_file))

    assert not AppPassword.objects.filter(user=a).exists()
    assert AppPassword.objects.filter(user=b).exists()


def test_a_bulk_update_file_names_the_users_for_reset_methods_too(tmp_path: Path) -> None:
    a = make_user("a@contoso.test", registered=True)
    csv_file = tmp_path / "bulk.csv"
    csv_file.write_text("Username,MFA Status\na@contoso.test,Enforced\n")

    run("reset-methods", "--csv", str(csv_file))

    assert not a.methods.exists()


def test_revoke_sessions_all_follows_the_users_page_filters() -> None:
    adam = make_user("adam@contoso.test", display_name="Adam Smith")
    bob = make_user("bob@contoso.test", display_name="Bob Jones")

    run("revoke-sessions", "--all", "--search", "ad")

    adam.refresh_from_db()
    bob.refresh_from_db()
    assert (adam.session_version, bob.session_version) == (1, 0)


def test_the_writes_refuse_an_unknown_user_and_change_nothing() -> None:
    a = make_user("a@contoso.test", registered=True)
    with pytest.raises(CommandError, match="nothing was changed"):
        run("reset-methods", "a@contoso.test", "ghost@contoso.test")
    assert a.methods.exists()
