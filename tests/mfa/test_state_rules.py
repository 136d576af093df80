"""DESIGN §3: the per-user MFA state rules, at the service level."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import (
    AppPassword,
    MfaState,
    RememberedDevice,
    ServiceSettings,
    UserMfa,
    VerificationMethod,
)
from mfaportal.mfa.services import (
    app_passwords_delete_all,
    mfa_registration_complete,
    mfa_reregistration_require,
    mfa_state_set,
    remembered_devices_restore,
    service_settings_update,
    sessions_revoke,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db
CLI = ChangeContext(actor=None, source=AuditSource.CLI)


def state_of(user: DirectoryUser) -> MfaState:
    return MfaState(UserMfa.objects.get(user=user).state)


def only(user: DirectoryUser):
    return DirectoryUser.objects.filter(pk=user.pk)


@pytest.mark.parametrize(
    ("start", "requested", "registered", "expected"),
    [
        (MfaState.DISABLED, MfaState.ENABLED, False, MfaState.ENABLED),
        (MfaState.DISABLED, MfaState.ENFORCED, False, MfaState.ENFORCED),
        (MfaState.ENABLED, MfaState.ENFORCED, False, MfaState.ENFORCED),
        (MfaState.ENABLED, MfaState.DISABLED, False, MfaState.DISABLED),
        (MfaState.ENFORCED, MfaState.DISABLED, True, MfaState.DISABLED),
        (MfaState.ENFORCED, MfaState.ENABLED, False, MfaState.ENABLED),
        # Microsoft's rule: enabling a user who already registered makes them Enforced.
        (MfaState.DISABLED, MfaState.ENABLED, True, MfaState.ENFORCED),
        (MfaState.ENFORCED, MfaState.ENABLED, True, MfaState.ENFORCED),
    ],
)
def test_every_state_transition(start, requested, registered, expected) -> None:
    user = make_user(state=start, registered=registered)
    mfa_state_set(users=only(user), state=requested, context=CLI)
    assert state_of(user) == expected


def test_completing_registration_while_enabled_makes_the_user_enforced() -> None:
    user = make_user(state=MfaState.ENABLED)
    assert mfa_registration_complete(user=user, context=CLI) == MfaState.ENFORCED
    assert state_of(user) == MfaState.ENFORCED


def test_completing_registration_while_disabled_leaves_the_user_disabled() -> None:
    user = make_user(state=MfaState.DISABLED)
    assert mfa_registration_complete(user=user, context=CLI) == MfaState.DISABLED


def test_disable_keeps_methods_and_reenable_of_a_registered_user_enforces() -> None:
    user = make_user(state=MfaState.ENFORCED, registered=True)
    mfa_state_set(users=only(user), state=MfaState.DISABLED, context=CLI)
    assert VerificationMethod.objects.filter(user=user).exists()
    outcome = mfa_state_set(users=only(user), state=MfaState.ENABLED, context=CLI)
    assert state_of(user) == MfaState.ENFORCED
    assert "Enforced" in outcome.changed[0].reason


def test_unlicensed_users_are_skipped_for_enable_and_enforce_but_can_be_disabled() -> None:
    user = make_user(is_licensed=False, state=MfaState.ENABLED)
    outcome = mfa_state_set(users=only(user), state=MfaState.ENFORCED, context=CLI)
    assert state_of(user) == MfaState.ENABLED
    assert outcome.skipped[0].reason.startswith("Only licensed users")
    mfa_state_set(users=only(user), state=MfaState.DISABLED, context=CLI)
    assert state_of(user) == MfaState.DISABLED


def test_authentication_administrators_cannot_change_the_mfa_state_of_anyone() -> None:
    helpdesk = make_user("hd@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)
    admin = make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    plain = make_user("plain@contoso.test")
    context = ChangeContext(actor=helpdesk, source=AuditSource.PAGE)
    outcome = mfa_state_set(
        users=DirectoryUser.objects.filter(pk__in=[admin.pk, plain.pk]),
        state=MfaState.ENABLED,
        context=context,
    )
    assert not outcome.changed
    assert sorted(item.user_principal_name for item in outcome.skipped) == [
        "ga@contoso.test",
        "plain@contoso.test",
    ]
    assert state_of(admin) == state_of(plain) == MfaState.DISABLED


def test_an_authentication_policy_administrator_changes_the_state_of_anyone() -> None:
    policy_admin = make_user(
        "apa@contoso.test", admin_role=roles.AUTHENTICATION_POLICY_ADMINISTRATOR
    )
    admin = make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    plain = make_user("plain@contoso.test")
    outcome = mfa_state_set(
        users=DirectoryUser.objects.filter(pk__in=[admin.pk, plain.pk]),
        state=MfaState.ENABLED,
        context=ChangeContext(actor=policy_admin, source=AuditSource.PAGE),
    )
    assert len(outcome.changed) == 2 and not outcome.skipped
    assert state_of(admin) == state_of(plain) == MfaState.ENABLED


def test_a_global_admin_can_change_another_admin() -> None:
    ga = make_user("ga1@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    other = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    mfa_state_set(
        users=only(other), state=MfaState.ENFORCED, context=ChangeContext(ga, AuditSource.PAGE)
    )
    assert state_of(other) == MfaState.ENFORCED


def test_each_change_writes_an_audit_event_with_before_and_after() -> None:
    user = make_user("audited@contoso.test")
    mfa_state_set(users=only(user), state=MfaState.ENABLED, context=CLI)
    event = AuditEvent.objects.get(target=user)
    assert (event.action, event.before, event.after, event.source) == (
        "mfa.state",
        "Disabled",
        "Enabled",
        "cli",
    )


def test_setting_the_same_state_again_changes_and_audits_nothing() -> None:
    user = make_user(state=MfaState.ENABLED)
    outcome = mfa_state_set(users=only(user), state=MfaState.ENABLED, context=CLI)
    assert len(outcome.unchanged) == 1
    assert not AuditEvent.objects.exists()


def test_user_without_an_mfa_row_counts_as_disabled_and_can_be_enabled() -> None:
    user = make_user()
    UserMfa.objects.filter(user=user).delete()
    mfa_state_set(users=only(user), state=MfaState.ENABLED, context=CLI)
    assert state_of(user) == MfaState.ENABLED


def test_require_reregistration_clears_methods_and_sets_must_register() -> None:
    user = make_user(state=MfaState.ENFORCED, registered=True)
    mfa_reregistration_require(users=only(user), context=CLI)
    mfa = UserMfa.objects.get(user=user)
    assert mfa.must_register and mfa.default_method == ""
    assert not VerificationMethod.objects.filter(user=user).exists()
    assert mfa.state == MfaState.ENFORCED
    mfa_registration_complete(user=user, context=CLI)
    assert not UserMfa.objects.get(user=user).must_register


def test_delete_app_passwords_removes_only_the_selected_users_passwords() -> None:
    user, other = make_user(), make_user()
    AppPassword.objects.create(user=user, name="Outlook", digest="a" * 64)
    AppPassword.objects.create(user=other, name="Outlook", digest="b" * 64)
    app_passwords_delete_all(users=only(user), context=CLI)
    assert list(AppPassword.objects.values_list("user", flat=True)) == [other.pk]
    assert AuditEvent.objects.get(target=user).before == "1"


def test_restore_remembered_devices_sets_the_not_issued_before_time() -> None:
    from django.utils import timezone

    user = make_user()
    RememberedDevice.objects.create(user=user, digest="c" * 64, expires_at=timezone.now())
    remembered_devices_restore(users=only(user), context=CLI)
    assert UserMfa.objects.get(user=user).remember_devices_not_issued_before is not None
    assert not RememberedDevice.objects.filter(user=user).exists()


def test_revoking_sessions_changes_the_session_hash() -> None:
    user = make_user()
    before = user.get_session_auth_hash()
    sessions_revoke(users=only(user), context=CLI)
    user.refresh_from_db()
    assert user.get_session_auth_hash() != before


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (roles.GLOBAL_ADMINISTRATOR, True),
        (roles.AUTHENTICATION_POLICY_ADMINISTRATOR, True),
        (roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR, False),
        (roles.AUTHENTICATION_ADMINISTRATOR, False),
        (roles.GLOBAL_READER, False),
        (None, False),
    ],
    ids=lambda value: getattr(value, "display_name", str(value)),
)
def test_the_settings_service_itself_refuses_roles_that_may_not_change_settings(
    role: roles.BuiltInRole | None, allowed: bool
) -> None:
    actor = make_user("actor@contoso.test", admin_role=role)
    context = ChangeContext(actor=actor, source=AuditSource.PAGE)
    if allowed:
        assert service_settings_update(changes={"app_passwords_allowed": True}, context=context)
    else:
        with pytest.raises(PermissionDenied):
            service_settings_update(changes={"app_passwords_allowed": True}, context=context)
    assert ServiceSettings.load().app_passwords_allowed is allowed


def test_the_command_line_may_change_settings() -> None:
    context = ChangeContext(actor=None, source=AuditSource.CLI)
    assert service_settings_update(changes={"app_passwords_allowed": True}, context=context)


def test_a_state_change_for_many_users_audits_each_without_an_object_per_row(
    monkeypatch,
) -> None:
    """Issue 15: a 10k Enable spent most of its time building AuditEvent objects; the rows
    go in as values now, each still naming actor, target, before, after and source."""
    admin = make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    users = [make_user(f"bulk{n}@contoso.test") for n in range(30)]
    built = []
    original = AuditEvent.__init__

    def counting(self, *args, **kwargs) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(AuditEvent, "__init__", counting)
    context = ChangeContext(actor=admin, source=AuditSource.PAGE, ip_address="192.0.2.7")
    outcome = mfa_state_set(
        users=DirectoryUser.objects.filter(pk__in=[user.pk for user in users]),
        state=MfaState.ENABLED,
        context=context,
    )
    assert len(outcome.changed) == 30
    assert built == []
    monkeypatch.setattr(AuditEvent, "__init__", original)
    events = AuditEvent.objects.filter(action="mfa.state").order_by("target_id")
    assert [(e.target_id, e.target_label) for e in events] == [
        (user.pk, user.user_principal_name) for user in users
    ]
    first = events[0]
    assert (first.actor_id, first.before, first.after, first.source) == (
        admin.pk,
        "Disabled",
        "Enabled",
        AuditSource.PAGE,
    )
    assert first.ip_address == "192.0.2.7"
    assert first.detail == {}
