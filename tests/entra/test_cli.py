"""``manage.py mfa`` in graph mode: every write is sent to Microsoft Graph in the command's
own process and waited for (no task worker needed), each user's outcome printed, and the
command fails when Graph refused a change. ``--no-wait`` only queues."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox.settle import changes_settle
from mfaportal.entra.sync import directory_sync
from mfaportal.mfa.models import AppPassword, MfaState, UserMfa
from mfaportal.mfa.services import mfa_state_set
from tests.graph_emulator.fixtures import RecordingSleep
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db

Status = OutboxChange.Status
PATCH_ITEMS = r"/authentication/requirements$"


@pytest.fixture
def synced(graph_mode: GraphEmulator) -> GraphEmulator:
    directory_sync(full=True)
    return graph_mode


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("mfa", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def upn(emulator: GraphEmulator, index: int) -> str:
    return emulator.tenant.user_at(index).user_principal_name


def test_set_state_returns_when_graph_has_every_change(synced: GraphEmulator) -> None:
    # No task worker runs: the command sends the changes itself.
    out, err = run("set-state", "--state", "Enforced", upn(synced, 3), upn(synced, 4))

    assert synced.tenant.user_at(3).per_user_mfa_state == "enforced"
    assert synced.tenant.user_at(4).per_user_mfa_state == "enforced"
    assert f"{upn(synced, 3)}: accepted by Microsoft Graph" in out
    assert "2 changed, 0 already so, 0 skipped. Microsoft Graph accepted 2, refused 0" in out
    assert set(OutboxChange.objects.values_list("status", flat=True)) == {Status.DONE}
    assert "Microsoft Graph" in err and "100%" in err  # the progress bar


def test_set_state_fails_and_names_the_users_graph_refused(synced: GraphEmulator) -> None:
    synced.faults.add(
        rf"/users/{synced.tenant.user_at(3).id}{PATCH_ITEMS}",
        status=403,
        method="PATCH",
        scope="batch_item",
        times=None,
    )
    out = io.StringIO()

    with pytest.raises(CommandError, match="Microsoft Graph refused 1 change"):
        call_command(
            "mfa", "set-state", "--state", "Enforced", upn(synced, 3), upn(synced, 4),
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip

    text = out.getvalue()
    assert f"{upn(synced, 3)}: refused by Microsoft Graph: 403 Authorization_RequestDenied" in text
    assert f"{upn(synced, 4)}: accepted by Microsoft Graph" in text
    three = DirectoryUser.objects.get(user_principal_name=upn(synced, 3))
    assert UserMfa.objects.get(user=three).state == MfaState.DISABLED  # as Graph has it


def test_no_wait_only_queues_the_changes(synced: GraphEmulator) -> None:
    out, _err = run("set-state", "--state", "Enforced", "--no-wait", upn(synced, 3))

    assert "1 change(s) queued for Microsoft Graph, not sent yet" in out
    assert synced.tenant.user_at(3).per_user_mfa_state == "disabled"
    assert OutboxChange.objects.get().status == Status.PENDING


def test_reset_methods_deletes_the_methods_in_graph_before_returning(
    synced: GraphEmulator,
) -> None:
    out, _err = run("reset-methods", upn(synced, 9))

    graph_user = synced.tenant.user_at(9)
    assert graph_user.phones == {} and graph_user.authenticators == []
    assert f"{upn(synced, 9)}: accepted by Microsoft Graph" in out
    nine = DirectoryUser.objects.get(user_principal_name=upn(synced, 9))
    assert not nine.methods.exists() and nine.mfa.must_register


def test_revoke_sessions_ends_them_in_graph_and_skips_external_users(
    synced: GraphEmulator,
) -> None:
    guest = next(u for u in synced.tenant.iter_users() if u.user_type == "Guest")

    out, err = run("revoke-sessions", upn(synced, 3), guest.user_principal_name)

    assert synced.tenant.user_at(3).sessions_revoked_at is not None
    assert f"{upn(synced, 3)}: accepted by Microsoft Graph" in out
    assert f"skipped {guest.user_principal_name}: An external user" in err
    assert "1 changed, 0 already so, 1 skipped" in out


def test_delete_app_passwords_says_it_is_done_in_this_portal_only(synced: GraphEmulator) -> None:
    three = DirectoryUser.objects.get(user_principal_name=upn(synced, 3))
    AppPassword.objects.create(user=three, name="Outlook", digest="a" * 64)

    out, _err = run("delete-app-passwords", upn(synced, 3))

    assert "This portal only: Microsoft Entra ID's own app passwords" in out
    assert f"{upn(synced, 3)}: done in this portal only" in out
    assert not AppPassword.objects.filter(user=three).exists()
    assert not OutboxChange.objects.exists()


def test_waiting_sends_again_after_graph_asked_to_wait(synced: GraphEmulator) -> None:
    synced.faults.add(PATCH_ITEMS, status=503, method="PATCH", scope="batch_item", times=5)
    since = timezone.now()
    three = DirectoryUser.objects.get(user_principal_name=upn(synced, 3))
    mfa_state_set(
        users=DirectoryUser.objects.filter(pk=three.pk),
        state=MfaState.ENFORCED,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    sleep = RecordingSleep()

    def sleep_and_make_due(seconds: float) -> None:
        sleep(seconds)  # time passes: what waits for a retry is due now
        OutboxChange.objects.filter(status=Status.PENDING).update(next_attempt_at=timezone.now())

    settlement = changes_settle(
        user_ids=[three.pk], since=since, sleep=sleep_and_make_due, timeout=timedelta(hours=1)
    )

    assert settlement.accepted == {three.pk}
    assert sleep.delays and sleep.delays[0] >= 10  # the outbox's back-off, not a busy loop
    assert synced.tenant.user_at(3).per_user_mfa_state == "enforced"
