"""Sync from Graph into the cache, against the emulator over real HTTPS."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.entra.models import DirectorySyncState
from mfaportal.entra.sync import SyncFailed, directory_sync
from mfaportal.graph import GraphClient, TokenProvider
from mfaportal.mfa.models import MethodType, MfaState, UserMfa, VerificationMethod
from mfaportal.mfa.services import mfa_state_set
from tests.factories import make_user
from tests.graph_emulator.fixtures import RecordingSleep
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db

DELTA = r"^/v1.0/users/delta$"
REQUIREMENTS_ITEMS = r"^/beta/users/[^/]+/authentication/requirements$"
METHODS_ITEMS = r"^/v1.0/users/[^/]+/authentication/methods$"


def cached(emulator: GraphEmulator, index: int) -> DirectoryUser:
    return DirectoryUser.objects.get(object_id=emulator.tenant.user_at(index).id)


def role_ids(user: DirectoryUser) -> set[str]:
    return set(user.roles.values_list("template_id", flat=True))


def test_full_sync_pages_every_user_into_the_cache(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.delta_page_size = 7  # 60 users: 9 pages

    result = directory_sync(full=True, client=graph_client)

    assert len(graph_emulator.log.matching(DELTA, method="GET")) == 9
    assert DirectoryUser.objects.count() == 60 == result.users_added == result.users_seen
    state = DirectorySyncState.load()
    assert state.status == DirectorySyncState.Status.SUCCEEDED
    assert state.delta_link.startswith(graph_emulator.graph_url + "/v1.0/users/delta?$deltatoken=")
    assert state.last_full_sync_at is not None and state.running_since is None
    # Directory properties, licences, sign-in blocked.
    admin = cached(graph_emulator, 0)
    assert (admin.user_principal_name, admin.display_name) == ("admin@contoso.test", "MFA Admin")
    assert not cached(graph_emulator, 12).is_licensed
    assert not cached(graph_emulator, 46).account_enabled
    assert not admin.has_usable_password()
    # Each with its own random part, so each user's session hash is their own.
    assert DirectoryUser.objects.values("password").distinct().count() == 60
    # Admin roles: users only (the service principal holding Global Administrator is left out).
    assert role_ids(admin) == {roles.GLOBAL_ADMINISTRATOR.template_id}
    assert role_ids(cached(graph_emulator, 1)) == {roles.AUTHENTICATION_ADMINISTRATOR.template_id}
    assert (
        DirectoryRole.objects.get(
            template_id=roles.GLOBAL_ADMINISTRATOR.template_id
        ).members.count()
        == 1
    )
    # Per-user MFA state, registered methods and the default method.
    assert UserMfa.objects.get(user=cached(graph_emulator, 8)).state == MfaState.ENFORCED
    assert UserMfa.objects.get(user=cached(graph_emulator, 6)).state == MfaState.ENABLED
    assert UserMfa.objects.get(user=cached(graph_emulator, 3)).state == MfaState.DISABLED
    nine = cached(graph_emulator, 9)
    methods = {
        (m.kind, m.phone_number, m.extension, m.app_mode, m.device_name)
        for m in VerificationMethod.objects.filter(user=nine)
    }
    assert methods == {
        ("authentication_phone", "+15550000009", "", "", ""),
        ("office_phone", "+14255550009", "9", "", ""),
        ("authenticator_app", "", "", "notification", "iPhone 15"),
    }
    assert nine.mfa.default_method == MethodType.PHONE_APP_NOTIFICATION
    assert cached(graph_emulator, 5).mfa.default_method == MethodType.ONE_WAY_SMS
    oath = VerificationMethod.objects.get(user=cached(graph_emulator, 28), kind="authenticator_app")
    assert oath.app_mode == "code"
    assert not VerificationMethod.objects.filter(user=cached(graph_emulator, 3)).exists()
    assert result.states_read == 60 and result.warnings() == []
    assert AuditEvent.objects.filter(action="directory.synced", source="sync").count() == 1


def test_delta_sync_applies_adds_renames_disables_and_removals(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    directory_sync(full=True, client=graph_client)
    tenant = graph_emulator.tenant
    graph_emulator.log.clear()
    renamed, moved, disabled = tenant.user_at(5), tenant.user_at(6), tenant.user_at(7)
    soft, hard = tenant.user_at(10), tenant.user_at(11)
    old_upn = moved.user_principal_name
    added = tenant.add_user("Zoë Example", alias="zoe", per_user_mfa_state="enforced")
    tenant.add_authenticator(added.id, "Pixel 8")
    tenant.rename_user(renamed.id, "Renamed Person")
    tenant.update_user(moved.id, user_principal_name="moved.person@contoso.test")
    # Someone else takes the freed user name in the same round.
    tenant.update_user(tenant.user_at(13).id, user_principal_name=old_upn)
    tenant.disable_user(disabled.id)
    tenant.remove_user(soft.id, permanently=False)
    tenant.remove_user(hard.id, permanently=True)

    result = directory_sync(client=graph_client)

    assert result.kind == "delta"
    assert (result.users_added, result.users_removed) == (1, 2)
    zoe = DirectoryUser.objects.get(user_principal_name="zoe@contoso.test")
    assert zoe.display_name == "Zoë Example" and zoe.mfa.state == MfaState.ENFORCED
    assert zoe.methods.get().device_name == "Pixel 8"
    assert zoe.mfa.default_method == ""  # no preference set in Graph
    assert cached(graph_emulator, 5).display_name == "Renamed Person"
    assert cached(graph_emulator, 6).user_principal_name == "moved.person@contoso.test"
    assert cached(graph_emulator, 13).user_principal_name == old_upn
    assert not cached(graph_emulator, 7).account_enabled
    assert not DirectoryUser.objects.filter(object_id__in=[soft.id, hard.id]).exists()
    assert DirectoryUser.objects.count() == 59
    # Only the changes were read: no full listing, state and methods of the changed users only.
    assert all("$deltatoken" in str(e.query) or "$skiptoken" in str(e.query)
               for e in graph_emulator.log.matching(DELTA))  # fmt: skip
    assert len(graph_emulator.log.matching(REQUIREMENTS_ITEMS, batch_item=True)) == 5
    assert not graph_emulator.log.matching("userRegistrationDetails")


def test_a_user_never_given_a_licence_is_not_eligible_after_a_delta_round(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    directory_sync(full=True, client=graph_client)
    newcomer = graph_emulator.tenant.add_user("Never Licensed", alias="never", licensed=False)

    directory_sync(client=graph_client)

    # Delta leaves out assignedLicenses for a user who never had one: unknown, not licensed.
    user = DirectoryUser.objects.get(object_id=newcomer.id)
    assert user.account_enabled and not user.is_licensed
    outcome = mfa_state_set(
        users=DirectoryUser.objects.filter(pk=user.pk),
        state=MfaState.ENABLED,
        context=ChangeContext(actor=None, source=AuditSource.CLI),
    )
    assert [item.user_principal_name for item in outcome.skipped] == ["never@contoso.test"]


@pytest.mark.parametrize("shape", ["resyncRequired", "SyncStateNotFound", "gone"])
def test_expired_delta_token_falls_back_to_a_full_sync(
    graph_emulator: GraphEmulator, graph_client: GraphClient, shape: str
) -> None:
    directory_sync(full=True, client=graph_client)
    stale_link = DirectorySyncState.load().delta_link
    graph_emulator.tenant.expire_delta_tokens(shape)
    graph_emulator.tenant.add_user("New Starter", alias="new.starter")

    result = directory_sync(client=graph_client)

    assert result.kind == "full"
    assert any(shape in note for note in result.warnings())
    assert DirectoryUser.objects.filter(user_principal_name="new.starter@contoso.test").exists()
    state = DirectorySyncState.load()
    assert state.delta_link and state.delta_link != stale_link
    assert state.status == DirectorySyncState.Status.SUCCEEDED


def test_throttled_page_and_throttled_batch_items_are_waited_for(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.delta_page_size = 20
    graph_emulator.faults.add(DELTA, status=429, retry_after=1, after=1)  # the second page
    graph_emulator.faults.add(
        REQUIREMENTS_ITEMS, status=429, retry_after=2, scope="batch_item", times=3
    )

    result = directory_sync(full=True, client=graph_client)

    assert 1 in recording_sleep.delays and 2 in recording_sleep.delays
    throttled, retried = graph_emulator.log.matching(DELTA)[1:3]
    assert throttled.status == 429 and retried.header("retry-attempt") == "1"
    assert result.users_seen == 60 and result.states_read == 60
    assert UserMfa.objects.count() == 60


def test_a_batch_throttled_longer_than_a_request_may_wait_does_not_end_the_full_sync(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    # The second MFA-state $batch is answered 429 with a Retry-After of three minutes, past
    # what one request may wait (throttling.md: wait as long as Retry-After says).
    graph_emulator.faults.add(
        r"^/beta/\$batch$", status=429, retry_after=180, scope="request", after=1, times=1
    )

    result = directory_sync(full=True, client=graph_client)

    assert 180 in recording_sleep.delays  # the sync waited, then went on with that batch
    assert result.states_read == 60 and UserMfa.objects.count() == 60
    assert DirectorySyncState.load().status == DirectorySyncState.Status.SUCCEEDED


def test_a_page_that_fails_after_every_retry_is_read_again_from_where_the_sync_was(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.delta_page_size = 7
    graph_emulator.faults.add(DELTA, status=503, after=3, times=5)  # page 4, every attempt

    result = directory_sync(full=True, client=graph_client)

    assert result.users_seen >= 60 and DirectoryUser.objects.count() == 60
    assert any("went on from there" in note for note in result.warnings())
    assert DirectorySyncState.load().status == DirectorySyncState.Status.SUCCEEDED


def test_method_reads_graph_could_not_answer_are_read_again_before_the_sync_ends(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.faults.add(r"^/v1.0/\$batch$", status=503, times=5)  # every attempt

    directory_sync(full=True, client=graph_client)

    registered = [u for u in graph_emulator.tenant.iter_users() if u.methods_registered()]
    assert VerificationMethod.objects.values("user").distinct().count() == len(registered)


def test_unavailable_graph_is_retried_then_given_up_with_a_clear_error(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    directory_sync(full=True, client=graph_client)
    link = DirectorySyncState.load().delta_link
    graph_emulator.faults.add(DELTA, status=503, times=None)

    with pytest.raises(SyncFailed, match="503") as failed:
        directory_sync(client=graph_client)

    assert "gave up after 5 attempts" in str(failed.value)
    # Backed off between five attempts; went on from where it was three more times, each
    # after a pause, and then stopped.
    assert len(recording_sleep.delays) == 4 * 4 + 3
    assert recording_sleep.delays.count(30.0) == 3
    state = DirectorySyncState.load()
    assert state.status == DirectorySyncState.Status.FAILED
    assert "serviceNotAvailable" in state.last_error and "gave up" in state.last_error
    assert state.running_since is None  # the lock is released
    assert state.delta_link == link  # nothing half-applied is remembered as done
    assert AuditEvent.objects.filter(action="directory.sync_failed").exists()


def test_timeouts_are_retried_then_given_up(graph_emulator: GraphEmulator) -> None:
    config = graph_emulator.graph_config(timeout=0.3, max_attempts=2)
    client = GraphClient(config, token_provider=TokenProvider(config), sleep=lambda _s: None)
    graph_emulator.faults.add(DELTA, delay=1.0, times=None)

    with pytest.raises(SyncFailed) as failed:
        directory_sync(full=True, client=client)

    assert "no answer within 0.3 s" in str(failed.value)
    assert "gave up after 2 attempts" in DirectorySyncState.load().last_error


def test_a_missing_permission_on_some_calls_is_a_warning_not_a_failure(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.faults.add(REQUIREMENTS_ITEMS, status=403, scope="batch_item", times=None)

    result = directory_sync(full=True, client=graph_client)

    assert DirectoryUser.objects.count() == 60
    assert result.warnings() == ["MFA state: 403 Authorization_RequestDenied for 60"]
    assert DirectorySyncState.load().last_warnings == result.warnings()


def test_state_changed_in_graph_is_read_and_audited_by_the_next_full_sync(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    directory_sync(full=True, client=graph_client)
    user = graph_emulator.tenant.user_at(3)
    graph_emulator.tenant.set_mfa_state(user, "enforced")

    result = directory_sync(full=True, client=graph_client)

    assert result.states_changed == 1
    assert cached(graph_emulator, 3).mfa.state == MfaState.ENFORCED
    event = AuditEvent.objects.get(action="mfa.state", target__object_id=user.id)
    assert (event.before, event.after, event.source) == ("Disabled", "Enforced", "sync")


def test_a_changed_phone_number_reaches_the_cache_at_the_next_full_sync(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    directory_sync(full=True, client=graph_client)
    target = graph_emulator.tenant.user_at(5)
    # The same kind of method with another number, and the report not refreshed since: it
    # tells nothing (its time is the report's, the same on every row).
    target.phones["mobile"] = "+1 5550009999"

    directory_sync(full=True, client=graph_client)

    phone = cached(graph_emulator, 5).methods.get(kind="authentication_phone")
    assert phone.phone_number == "+15550009999"


def test_methods_are_read_where_the_report_or_the_cache_has_some_and_where_it_is_silent(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.tenant.disable_user(graph_emulator.tenant.user_id_for(9))  # has methods

    directory_sync(full=True, client=graph_client)

    reads = {e.path.split("/")[3] for e in graph_emulator.log.matching(METHODS_ITEMS)}
    users = list(graph_emulator.tenant.iter_users())
    registered = {u.id for u in users if u.account_enabled and u.methods_registered()}
    left_out = {u.id for u in users if not u.account_enabled}  # the report skips them
    assert reads == registered | left_out
    # The disabled user's methods are in the cache although the report left them out.
    assert cached(graph_emulator, 9).methods.count() == 3
    assert cached(graph_emulator, 9).mfa.default_method == MethodType.PHONE_APP_NOTIFICATION
    graph_emulator.log.clear()

    # A user whose methods all went in Graph (and whom the report still lists) is read too.
    graph_emulator.tenant.user_at(5).phones.clear()
    directory_sync(full=True, client=graph_client)
    assert not cached(graph_emulator, 5).methods.exists()


def test_a_tenant_without_p1_or_p2_gets_every_users_methods_read_one_by_one(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.tenant.premium = False

    result = directory_sync(full=True, client=graph_client)

    (report,) = graph_emulator.log.matching("userRegistrationDetails")
    assert report.status == 403
    assert any("P1 or P2" in note for note in result.warnings())
    assert len(graph_emulator.log.matching(METHODS_ITEMS, batch_item=True)) == 60
    nine = cached(graph_emulator, 9)
    assert nine.methods.count() == 3
    assert nine.mfa.default_method == MethodType.PHONE_APP_NOTIFICATION  # signInPreferences
    assert cached(graph_emulator, 5).mfa.default_method == MethodType.ONE_WAY_SMS


def test_report_pages_are_paced_to_the_reports_published_limit(
    graph_emulator: GraphEmulator, graph_client: GraphClient, recording_sleep: RecordingSleep
) -> None:
    graph_emulator.report_page_size = 5  # 12 pages for the 59 enabled users

    directory_sync(full=True, client=graph_client)

    pages = graph_emulator.log.matching("userRegistrationDetails")
    assert len(pages) == 12 and all(page.status == 200 for page in pages)  # never a 429
    # 5 requests per 10 s: the last of 12 pages goes out 20 s after the first.
    assert sum(recording_sleep.delays) >= 20


def test_full_sync_removes_users_graph_no_longer_lists(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    leftover = make_user("left.company@contoso.test")

    result = directory_sync(full=True, client=graph_client)

    assert not DirectoryUser.objects.filter(pk=leftover.pk).exists()
    assert result.users_removed == 1


def test_a_later_full_sync_writes_the_users_graph_changed_and_leaves_the_others_as_they_are(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    directory_sync(full=True, client=graph_client)
    tenant = graph_emulator.tenant
    first_written = dict(DirectoryUser.objects.values_list("pk", "synced_at"))
    tenant.rename_user(tenant.user_at(5).id, "Renamed Person")
    tenant.disable_user(tenant.user_at(7).id)
    tenant.update_user(tenant.user_at(8).id, user_principal_name="moved.person@contoso.test")
    leftover = make_user("left.company@contoso.test")

    result = directory_sync(full=True, client=graph_client)

    assert cached(graph_emulator, 5).display_name == "Renamed Person"
    assert not cached(graph_emulator, 7).account_enabled
    assert cached(graph_emulator, 8).user_principal_name == "moved.person@contoso.test"
    assert (result.users_added, result.users_updated, result.users_removed) == (0, 3, 1)
    # Users listed as the cache holds them were not rewritten, and are still there.
    rewritten = {
        pk
        for pk, synced_at in DirectoryUser.objects.values_list("pk", "synced_at")
        if synced_at != first_written[pk]
    }
    assert rewritten == {cached(graph_emulator, i).pk for i in (5, 7, 8)}
    assert DirectoryUser.objects.count() == 60
    assert not DirectoryUser.objects.filter(pk=leftover.pk).exists()


def test_html_and_non_ascii_names_are_stored_as_is_and_shown_escaped(
    graph_emulator: GraphEmulator, graph_client: GraphClient, client: Client
) -> None:
    hostile = "<script>alert('x')</script> Zoë & \"Ünïcödé\" 日本語"
    graph_emulator.tenant.add_user(hostile, alias="hostile")
    directory_sync(full=True, client=graph_client)
    user = DirectoryUser.objects.get(user_principal_name="hostile@contoso.test")
    assert user.display_name == hostile

    client.force_login(cached(graph_emulator, 0))
    page = client.get(reverse("admin_portal:users"), {"q": "<script>"})

    html = page.content.decode()
    assert page.status_code == 200
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; Zoë &amp; &quot;Ünïcödé&quot; 日本語"
        in html
    )
    assert "<script>alert(" not in html


# --- the command and the admin page ----------------------------------------------------------


def test_sync_directory_command_fills_the_cache(graph_mode: GraphEmulator) -> None:
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_directory", "--full", stdout=out, stderr=err)

    assert DirectoryUser.objects.count() == 60
    assert out.getvalue().startswith("Full sync finished in ")
    assert "60 users read (60 added, 0 updated, 0 removed)" in out.getvalue()
    progress = err.getvalue()
    assert "users" in progress and "MFA state" in progress and "100%" in progress

    call_command("sync_directory", stdout=out, stderr=err)
    assert "Delta sync finished" in out.getvalue()


def test_sync_directory_command_refuses_local_mode() -> None:
    with pytest.raises(CommandError, match="MFAPORTAL_DIRECTORY=graph"):
        call_command("sync_directory", "--full")


def test_sync_directory_command_reports_a_failure(graph_mode: GraphEmulator) -> None:
    graph_mode.faults.add(DELTA, status=403, times=None)

    with pytest.raises(CommandError, match="Sync failed: Graph 403 Authorization_RequestDenied"):
        call_command("sync_directory", "--full", "--no-progress", stdout=io.StringIO())


def test_admin_sees_the_sync_status_and_can_sync_now(
    graph_mode: GraphEmulator, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    directory_sync(full=True)
    graph_mode.tenant.add_user("Fresh Hire", alias="fresh.hire")
    client.force_login(DirectoryUser.objects.get(user_principal_name="admin@contoso.test"))

    page = client.get(reverse("entra:sync"))
    assert page.status_code == 200
    assert b"Last full sync" in page.content and b"Sync now" in page.content

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("entra:sync_now"))
    assert answer.status_code == 302

    assert DirectoryUser.objects.filter(user_principal_name="fresh.hire@contoso.test").exists()
    state = DirectorySyncState.load()
    assert state.last_delta_sync_at is not None and state.requested_by == "admin@contoso.test"
    panel = client.get(reverse("entra:sync"), headers={"HX-Request": "true"})
    assert b"Last delta sync" in panel.content and b"<html" not in panel.content


def test_helpdesk_sees_the_panel_but_cannot_start_a_sync(
    graph_mode: GraphEmulator, client: Client
) -> None:
    directory_sync(full=True)
    client.force_login(DirectoryUser.objects.get(user_principal_name="helpdesk@contoso.test"))

    page = client.get(reverse("entra:sync"))
    assert page.status_code == 200 and b"Sync now" not in page.content
    assert client.post(reverse("entra:sync_now")).status_code == 403


def test_failed_sync_is_shown_on_the_panel(graph_mode: GraphEmulator, client: Client) -> None:
    directory_sync(full=True)
    graph_mode.faults.add(DELTA, status=403, times=None, message="No <b>access</b>.")
    with pytest.raises(SyncFailed):
        directory_sync()
    client.force_login(DirectoryUser.objects.get(user_principal_name="admin@contoso.test"))

    page = client.get(reverse("entra:sync")).content.decode()

    assert "The last sync failed." in page
    assert "Authorization_RequestDenied: No &lt;b&gt;access&lt;/b&gt;." in page


def test_sync_panel_is_absent_in_local_mode(client: Client) -> None:
    client.force_login(make_user(admin_role=roles.GLOBAL_ADMINISTRATOR))
    assert client.get(reverse("entra:sync")).status_code == 404


def test_a_requested_sync_waits_visibly_for_the_task_worker(
    graph_mode: GraphEmulator, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    directory_sync(full=True)
    client.force_login(DirectoryUser.objects.get(user_principal_name="admin@contoso.test"))

    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        client.post(reverse("entra:sync_now"), {"full": "1"})

    assert len(enqueued) == 1  # the task is enqueued once the request's transaction commits
    page = client.get(reverse("entra:sync")).content.decode()
    assert "is waiting for the task worker" in page
    assert 'hx-trigger="every 2s"' in page


def test_the_users_page_shows_the_sync_status_in_graph_mode(
    graph_mode: GraphEmulator, client: Client
) -> None:
    directory_sync(full=True)
    client.force_login(DirectoryUser.objects.get(user_principal_name="admin@contoso.test"))
    page = client.get(reverse("admin_portal:users")).content.decode()
    assert "Last full sync" in page
    assert reverse("entra:sync") in page  # the "directory sync" tab


def test_the_users_page_has_no_sync_panel_in_local_mode(client: Client, db: None) -> None:
    from mfaportal.core import roles
    from tests.factories import make_user

    client.force_login(make_user("ga@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR))
    page = client.get(reverse("admin_portal:users")).content.decode()
    assert "Last full sync" not in page and "directory sync" not in page


def test_a_spanish_admin_reads_the_sync_panel_in_spanish(
    graph_mode: GraphEmulator, client: Client
) -> None:
    directory_sync(full=True)
    state = DirectorySyncState.load()
    state.running_since = state.heartbeat_at = timezone.now()
    state.run_kind = "delta"
    state.stage = "mfa_states"
    state.save()
    client.force_login(DirectoryUser.objects.get(user_principal_name="admin@contoso.test"))

    running = client.get(reverse("entra:sync"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Leyendo estado de MFA…" in running and "MFA state" not in running

    state.running_since = None
    state.save()
    done = client.get(reverse("entra:sync"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Última sincronización completa:" in done and " full " not in done


def test_a_user_asked_to_register_again_who_did_so_in_graph_is_no_longer_asked(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    directory_sync(full=True, client=graph_client)
    nine, three = cached(graph_emulator, 9), cached(graph_emulator, 3)  # methods / none
    UserMfa.objects.filter(user__in=[nine, three]).update(must_register=True)

    directory_sync(full=True, client=graph_client)

    assert not UserMfa.objects.get(user=nine).must_register
    assert UserMfa.objects.get(user=three).must_register


def test_a_full_sync_does_not_read_every_users_mfa_row_for_each_report_page(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    from django.db import connection

    graph_emulator.report_page_size = 10  # 59 users in the report: 6 pages
    directory_sync(full=True, client=graph_client)
    UserMfa.objects.filter(user=cached(graph_emulator, 9)).update(must_register=True)
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        directory_sync(full=True, client=graph_client)

    # Who must register again is asked of the users a page names (by key), never of the table.
    asked = [sql for sql in statements if '"must_register"' in sql]
    assert asked and all('"user_id"' in sql.split("WHERE", 1)[-1] for sql in asked)
    assert not UserMfa.objects.get(user=cached(graph_emulator, 9)).must_register
