"""Admin actions in graph mode go to Graph through the durable outbox."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.interface import get_directory
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.models import OutboxChange
from mfaportal.entra.outbox import DeliveryReport, outbox_deliver
from mfaportal.entra.outbox.answers import Answers
from mfaportal.entra.outbox.deliver import claim, finish
from mfaportal.entra.outbox.senders import SENDERS
from mfaportal.entra.selectors import pending_changes_for
from mfaportal.entra.sync import directory_sync
from mfaportal.graph import GraphClient, client_from_settings
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod
from mfaportal.mfa.services import (
    mfa_reregistration_require,
    mfa_state_set,
    remembered_devices_restore,
    sessions_revoke,
)
from tests.graph_emulator import PHONE_METHOD_IDS
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db

Status = OutboxChange.Status


@pytest.fixture
def synced(graph_mode: GraphEmulator) -> GraphEmulator:
    """Graph mode with the cache filled by a full sync."""
    directory_sync(full=True)
    return graph_mode


def cached(emulator: GraphEmulator, index: int) -> DirectoryUser:
    return DirectoryUser.objects.get(object_id=emulator.tenant.user_at(index).id)


def admin_context() -> ChangeContext:
    admin = DirectoryUser.objects.get(user_principal_name="admin@contoso.test")
    return ChangeContext(actor=admin, source=AuditSource.PAGE, ip_address="192.0.2.1")


def set_state(user: DirectoryUser, state: MfaState) -> None:
    mfa_state_set(
        users=DirectoryUser.objects.filter(pk=user.pk), state=state, context=admin_context()
    )


def patches(emulator: GraphEmulator, user_id: str) -> list[Any]:
    return emulator.log.matching(
        rf"^/beta/users/{user_id}/authentication/requirements$", method="PATCH"
    )


def test_enable_lands_in_graph_and_the_change_is_done(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(3)
    user = cached(synced, 3)
    assert get_directory().name == "graph"

    with django_capture_on_commit_callbacks(execute=True):
        set_state(user, MfaState.ENABLED)

    assert graph_user.per_user_mfa_state == "enabled"
    (patch,) = patches(synced, graph_user.id)
    assert patch.batch_item and patch.body == {"perUserMfaState": "enabled"}
    change = OutboxChange.objects.get(user=user)
    assert (change.status, change.kind, change.attempts) == (Status.DONE, "mfa_state", 1)
    assert change.actor_label == "admin@contoso.test" and change.source == "page"
    assert change.done_at is not None
    user.refresh_from_db()
    assert user.mfa.state == MfaState.ENABLED
    assert pending_changes_for([user.pk]) == {}


def test_graph_turning_enabled_into_enforced_is_what_the_cache_shows(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    # User 5 has a phone in Graph; the cache has not heard of it yet (a stale cache).
    graph_user = synced.tenant.user_at(5)
    user = cached(synced, 5)
    VerificationMethod.objects.filter(user=user).delete()

    with django_capture_on_commit_callbacks(execute=True):
        set_state(user, MfaState.ENABLED)

    (patch,) = patches(synced, graph_user.id)
    assert patch.body == {"perUserMfaState": "enabled"}  # what the admin asked for
    assert graph_user.per_user_mfa_state == "enforced"  # what Graph made of it
    user.refresh_from_db()
    assert user.mfa.state == MfaState.ENFORCED
    answer = AuditEvent.objects.get(action="mfa.state", target=user, source="sync")
    assert (answer.before, answer.after) == ("Enabled", "Enforced")


def test_a_crash_between_record_and_send_loses_nothing_and_sends_once(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(3)
    user = cached(synced, 3)
    # The action commits, then the process dies before its task is enqueued.
    with django_capture_on_commit_callbacks(execute=False) as never_enqueued:
        set_state(user, MfaState.ENFORCED)
    change = OutboxChange.objects.get(user=user)
    assert change.status == Status.PENDING and patches(synced, graph_user.id) == []
    assert pending_changes_for([user.pk])[user.pk][0].state == "enforced"

    out = io.StringIO()
    call_command("outbox_drain", stdout=out)  # the safety net after a restart

    assert out.getvalue().startswith("1 changes sent: 1 accepted")
    assert graph_user.per_user_mfa_state == "enforced"
    # The lost task turns up after all, and the drain runs again: nothing is sent twice.
    for callback in never_enqueued:
        callback()
    call_command("outbox_drain", stdout=out)
    assert len(patches(synced, graph_user.id)) == 1
    change.refresh_from_db()
    assert (change.status, change.attempts) == (Status.DONE, 1)


def test_a_worker_dying_mid_send_is_taken_over_when_its_lease_runs_out(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(4)
    user = cached(synced, 4)
    with django_capture_on_commit_callbacks(execute=False):
        set_state(user, MfaState.ENFORCED)
    claimed = claim(None, timezone.now())  # a worker takes the change, then dies
    assert len(claimed.changes) == 1

    assert outbox_deliver().sent == 0  # its lease still holds: nobody else sends it
    OutboxChange.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    report = outbox_deliver()

    assert report.done == 1
    assert len(patches(synced, graph_user.id)) == 1
    change = OutboxChange.objects.get(user=user)
    assert (change.status, change.attempts) == (Status.DONE, 2)


def test_a_definitive_refusal_is_recorded_with_graphs_reason_audited_and_shown(
    synced: GraphEmulator,
    django_capture_on_commit_callbacks: Callable[..., Any],
    client: Client,
) -> None:
    synced.faults.add(
        r"/authentication/requirements$",
        status=403,
        method="PATCH",
        scope="batch_item",
        times=None,
    )
    graph_user = synced.tenant.user_at(3)
    user = cached(synced, 3)

    with django_capture_on_commit_callbacks(execute=True):
        set_state(user, MfaState.ENFORCED)

    change = OutboxChange.objects.get(user=user)
    assert change.status == Status.FAILED
    assert (change.graph_status, change.graph_error_code) == (403, "Authorization_RequestDenied")
    assert change.last_error == "Insufficient privileges to complete the operation."
    assert change.attempts == 1  # not retried: sending it again cannot help
    assert graph_user.per_user_mfa_state == "disabled"
    user.refresh_from_db()
    assert user.mfa.state == MfaState.DISABLED  # the cache shows Graph's state again
    event = AuditEvent.objects.get(action="directory.change_refused", target=user)
    assert event.detail["graph_code"] == "Authorization_RequestDenied"
    assert event.detail["requested_by"] == "admin@contoso.test"
    (shown,) = pending_changes_for([user.pk])[user.pk]
    assert shown.failed and shown.graph_error_code == "Authorization_RequestDenied"

    client.force_login(DirectoryUser.objects.get(user_principal_name="admin@contoso.test"))
    page = client.get(reverse("entra:sync")).content.decode()
    assert user.user_principal_name in page and "Authorization_RequestDenied" in page


def test_throttled_and_unavailable_changes_wait_and_are_sent_later(
    synced: GraphEmulator,
    graph_client: GraphClient,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    synced.faults.add(
        r"/authentication/requirements$", status=503, method="PATCH", scope="batch_item", times=None
    )
    graph_user = synced.tenant.user_at(3)
    user = cached(synced, 3)
    with django_capture_on_commit_callbacks(execute=False):
        set_state(user, MfaState.ENABLED)

    report = outbox_deliver(client=graph_client)

    assert (report.done, report.failed, report.retrying) == (0, 0, 1)
    change = OutboxChange.objects.get(user=user)
    assert change.status == Status.PENDING and change.graph_status == 503
    assert "gave up after the allowed retries" in change.last_error
    assert change.next_attempt_at > timezone.now() + timedelta(seconds=10)
    assert report.next_attempt_at == change.next_attempt_at
    (shown,) = pending_changes_for([user.pk])[user.pk]
    assert shown.status == "pending" and shown.attempts == 1

    synced.faults.clear()
    assert outbox_deliver(client=graph_client).sent == 0  # not due yet
    OutboxChange.objects.update(next_attempt_at=timezone.now())  # time passes
    assert outbox_deliver(client=graph_client).done == 1
    assert graph_user.per_user_mfa_state == "enabled"
    change.refresh_from_db()
    assert (change.status, change.attempts, change.last_error) == (Status.DONE, 2, "")


def test_a_newer_change_replaces_a_pending_one(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(3)
    user = cached(synced, 3)
    with django_capture_on_commit_callbacks(execute=False):
        set_state(user, MfaState.ENFORCED)
        set_state(user, MfaState.DISABLED)

    outbox_deliver()

    (patch,) = patches(synced, graph_user.id)
    assert patch.body == {"perUserMfaState": "disabled"}
    statuses = list(OutboxChange.objects.filter(user=user).values_list("status", flat=True))
    assert statuses == [Status.SUPERSEDED, Status.DONE]


def test_requiring_reregistration_deletes_the_methods_in_graph(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(9)  # mobile and office phones, authenticator app
    user = cached(synced, 9)
    assert user.methods.count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        mfa_reregistration_require(
            users=DirectoryUser.objects.filter(pk=user.pk), context=admin_context()
        )

    assert graph_user.phones == {} and graph_user.authenticators == []
    deletes = synced.log.matching(rf"^/v1.0/users/{graph_user.id}/", method="DELETE")
    assert len(deletes) == 3 and all(d.batch_item for d in deletes)
    assert OutboxChange.objects.get(user=user).status == Status.DONE
    user.refresh_from_db()
    assert user.methods.count() == 0
    assert user.mfa.must_register and user.mfa.default_method == ""


def test_revoking_sessions_and_restoring_remembered_devices_revoke_in_graph(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    first, second = synced.tenant.user_at(3), synced.tenant.user_at(4)
    one, two = cached(synced, 3), cached(synced, 4)

    with django_capture_on_commit_callbacks(execute=True):
        sessions_revoke(users=DirectoryUser.objects.filter(pk=one.pk), context=admin_context())
        remembered_devices_restore(
            users=DirectoryUser.objects.filter(pk=two.pk), context=admin_context()
        )

    assert first.sessions_revoked_at is not None and second.sessions_revoked_at is not None
    assert set(OutboxChange.objects.values_list("kind", "status")) == {
        ("sessions_revoke", Status.DONE)
    }
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.session_version == 1  # the portal's own sessions end at once
    assert two.mfa.remember_devices_not_issued_before is not None


def test_bulk_state_change_goes_out_in_batches(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    users = DirectoryUser.objects.filter(is_licensed=True, mfa__state=MfaState.DISABLED)
    count = users.count()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = mfa_state_set(users=users, state=MfaState.ENFORCED, context=admin_context())

    assert len(outcome.changed) == count > 20
    assert OutboxChange.objects.filter(status=Status.DONE).count() == count
    envelopes = synced.log.matching(r"^/beta/\$batch$", method="POST")
    assert len(envelopes) >= count // 20
    assert all(len(e.body["requests"]) <= 20 for e in envelopes)
    enforced = [u for u in synced.tenant.iter_users() if u.per_user_mfa_state == "enforced"]
    assert len(enforced) >= count


def test_a_second_worker_sends_only_what_the_first_has_not_claimed(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Two workers interleaved: A claims half, B drains meanwhile, then A sends its half.
    Each change reaches Graph exactly once. (The claim is a status change under
    select_for_update(skip_locked=True); SQLite serialises the claiming transactions.)"""
    users = DirectoryUser.objects.filter(is_licensed=True, mfa__state=MfaState.DISABLED)
    with django_capture_on_commit_callbacks(execute=False):
        mfa_state_set(users=users, state=MfaState.ENFORCED, context=admin_context())
    ids = list(OutboxChange.objects.order_by("pk").values_list("pk", flat=True))
    half = ids[: len(ids) // 2]

    first = claim(half, timezone.now())  # worker A, claimed but not yet sent
    second = outbox_deliver()  # worker B
    outbox_deliver(change_ids=half)  # A's own task: its claim holds, nothing to take
    assert second.done == len(ids) - len(half)
    outcomes = Answers()
    SENDERS[OutboxChange.Kind.MFA_STATE](client_from_settings(), first.changes, outcomes)
    report = DeliveryReport()
    finish(client_from_settings(), first, outcomes, report)

    assert report.done == len(half)
    assert OutboxChange.objects.filter(status=Status.DONE).count() == len(ids)
    sent = [e.path for e in synced.log.matching(r"/requirements$", method="PATCH")]
    assert len(sent) == len(set(sent)) == len(ids)


def test_reregistration_deletes_one_method_at_a_time_default_last_and_deactivates_tokens(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    tenant = synced.tenant
    graph_user = tenant.user_at(5)  # a mobile phone, which is the default (sms)
    graph_user.phones["alternateMobile"] = "+1 5550000105"
    tenant.add_authenticator(graph_user.id, "Pixel 8")
    tenant.add_software_oath(graph_user.id)
    token = tenant.add_hardware_oath(graph_user.id, "OATH-42")
    user = cached(synced, 5)

    with django_capture_on_commit_callbacks(execute=True):
        mfa_reregistration_require(
            users=DirectoryUser.objects.filter(pk=user.pk), context=admin_context()
        )

    assert graph_user.phones == {} and graph_user.authenticators == []
    assert graph_user.software_oath == []
    # Entra's own "Require re-register MFA" deactivates hardware tokens; they stay assigned.
    assert graph_user.hardware_oath == [token] and token.status == "assigned"
    deletes = [d.path for d in synced.log.matching(rf"/users/{graph_user.id}/", method="DELETE")]
    assert all(d.status == 204 for d in synced.log.matching(r"/authentication/", method="DELETE"))
    assert deletes[-1].endswith("/phoneMethods/" + PHONE_METHOD_IDS["mobile"])  # the default
    assert deletes.index(
        next(d for d in deletes if d.endswith(PHONE_METHOD_IDS["alternateMobile"]))
    ) < deletes.index(deletes[-1])
    assert OutboxChange.objects.get(user=user).status == Status.DONE
    user.refresh_from_db()
    assert user.methods.count() == 0 and user.mfa.must_register


def test_an_alternate_phone_that_is_the_default_is_not_left_undeletable(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(5)
    graph_user.phones["alternateMobile"] = "+1 5550000105"
    graph_user.preferred_method = "voiceAlternateMobile"
    user = cached(synced, 5)

    with django_capture_on_commit_callbacks(execute=True):
        mfa_reregistration_require(
            users=DirectoryUser.objects.filter(pk=user.pk), context=admin_context()
        )

    assert graph_user.phones == {}
    assert OutboxChange.objects.get(user=user).status == Status.DONE


def test_a_refused_deletion_leaves_the_cache_showing_what_graph_still_holds(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    graph_user = synced.tenant.user_at(9)  # mobile and office phones, the app (the default)
    synced.faults.add(r"/microsoftAuthenticatorMethods/", status=403, method="DELETE", times=None)
    user = cached(synced, 9)

    with django_capture_on_commit_callbacks(execute=True):
        mfa_reregistration_require(
            users=DirectoryUser.objects.filter(pk=user.pk), context=admin_context()
        )

    assert graph_user.phones == {} and len(graph_user.authenticators) == 1
    change = OutboxChange.objects.get(user=user)
    assert change.status == Status.FAILED and change.graph_status == 403
    user.refresh_from_db()
    assert [m.kind for m in user.methods.all()] == ["authenticator_app"]
    assert not user.mfa.must_register  # Graph still lets the person sign in with the app


def test_an_accepted_change_stands_when_the_read_right_after_it_is_stale(
    synced: GraphEmulator, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    synced.read_after_write_lag = 60.0  # every replica hears of a write a minute later
    graph_user = synced.tenant.user_at(6)  # Enabled
    user = cached(synced, 6)

    with django_capture_on_commit_callbacks(execute=True):
        set_state(user, MfaState.DISABLED)

    assert graph_user.per_user_mfa_state == "disabled"
    read_back = synced.log.matching(rf"/users/{graph_user.id}/authentication/requirements$")[-1]
    assert read_back.method == "GET"  # read right after the write, from a stale replica
    assert OutboxChange.objects.get(user=user).status == Status.DONE
    assert UserMfa.objects.get(user=user).state == MfaState.DISABLED  # not the stale Enabled
    # No audit entry claims that Graph turned the change into something else.
    assert not AuditEvent.objects.filter(action="mfa.state", target=user, source="sync").exists()
