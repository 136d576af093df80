"""Selection, the quick steps pane, and what each dialog does."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal import jobs
from mfaportal.admin_portal.jobs import runner
from mfaportal.admin_portal.models import BulkJob, BulkJobRow
from mfaportal.core import roles
from mfaportal.core.models import AuditEvent
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import (
    AppPassword,
    MfaState,
    RememberedDevice,
    UserMfa,
    VerificationMethod,
)
from tests.admin_portal.conftest import bulk_users, states, streamed_text
from tests.factories import make_user

pytestmark = pytest.mark.django_db
PANE = reverse("admin_portal:steps")


def step_url(step: str) -> str:
    return reverse("admin_portal:step", args=[step])


def pane_steps(client: Client, *users: DirectoryUser) -> list[str]:
    data: dict[str, Any] = {"u": [user.pk for user in users]}
    response = client.get(PANE, data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return re.findall(r'hx-get="/admin/users/steps/(\w+)/"', response.content.decode())


def state_of(user: DirectoryUser) -> MfaState:
    return MfaState(UserMfa.objects.get(user=user).state)


# --- which quick steps the pane offers --------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (MfaState.DISABLED, ["enable", "manage"]),
        (MfaState.ENABLED, ["enforce", "disable", "manage"]),
        (MfaState.ENFORCED, ["disable", "manage"]),
    ],
)
def test_quick_steps_follow_the_users_state(
    admin_client: Client, state: MfaState, expected: list[str]
) -> None:
    user = make_user("pat@contoso.test", display_name="Pat Doe", state=state)
    assert pane_steps(admin_client, user) == expected


def test_pane_names_one_selected_user_with_user_name(admin_client: Client) -> None:
    user = make_user("pat@contoso.test", display_name="Pat <b>Doe</b>")
    html = admin_client.get(PANE, {"u": user.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "Pat &lt;b&gt;Doe&lt;/b&gt;" in html
    assert "pat@contoso.test" in html
    assert "quick steps" in html


def test_multi_select_shows_the_count_and_every_step_some_user_allows(
    admin_client: Client,
) -> None:
    disabled = make_user("d@contoso.test", state=MfaState.DISABLED)
    enforced = make_user("f@contoso.test", state=MfaState.ENFORCED)
    html = admin_client.get(
        PANE, {"u": [disabled.pk, enforced.pk]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "2 users selected" in html
    assert pane_steps(admin_client, disabled, enforced) == ["enable", "disable", "manage"]


def test_unlicensed_user_is_not_offered_enable_or_enforce_and_the_pane_says_why(
    admin_client: Client,
) -> None:
    user = make_user("nolic@contoso.test", display_name="No Licence", is_licensed=False)
    assert pane_steps(admin_client, user) == ["manage"]
    html = admin_client.get(PANE, {"u": user.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "Only licensed users are eligible for multi-factor authentication." in html
    assert "No Licence has no licence, so Enable and Enforce are not offered." in html


def test_an_unlicensed_user_still_enabled_can_be_disabled(admin_client: Client) -> None:
    user = make_user("was@contoso.test", is_licensed=False, state=MfaState.ENABLED)
    assert pane_steps(admin_client, user) == ["disable", "manage"]


def test_mixed_selection_with_unlicensed_users_explains_they_are_skipped(
    admin_client: Client,
) -> None:
    licensed = make_user("lic@contoso.test")
    unlicensed = make_user("nolic@contoso.test", is_licensed=False)
    html = admin_client.get(
        PANE, {"u": [licensed.pk, unlicensed.pk]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "1 selected user has no licence and is skipped by Enable and Enforce" in html


def test_helpdesk_gets_no_steps_for_a_user_holding_a_privileged_role(
    helpdesk_client: Client,
) -> None:
    exchange = make_user(
        "exch@contoso.test",
        display_name="Exchange Admin",
        admin_role=roles.ROLES_BY_TEMPLATE_ID["29232cdf-9323-42fd-ade2-1d097af3e4de"],
    )
    assert pane_steps(helpdesk_client, exchange) == []
    html = helpdesk_client.get(PANE, {"u": exchange.pk}, HTTP_HX_REQUEST="true").content.decode()
    assert "Exchange Admin holds a privileged admin role" in html
    assert "Authentication administrators can&#x27;t change their sign-in methods" in html


def test_helpdesk_manages_the_settings_of_ordinary_users_but_not_their_state(
    helpdesk_client: Client,
) -> None:
    user = make_user("pat@contoso.test", state=MfaState.ENABLED)
    assert pane_steps(helpdesk_client, user) == ["manage"]
    assert helpdesk_client.get(step_url("enforce"), {"u": user.pk}).status_code == 403
    assert helpdesk_client.post(step_url("enforce"), {"u": user.pk}).status_code == 403
    assert state_of(user) == MfaState.ENABLED


def test_an_authentication_policy_administrator_gets_the_state_steps_only(
    client: Client,
) -> None:
    client.force_login(
        make_user("apa@contoso.test", admin_role=roles.AUTHENTICATION_POLICY_ADMINISTRATOR)
    )
    user = make_user("pat@contoso.test", state=MfaState.ENABLED)
    assert pane_steps(client, user) == ["enforce", "disable"]
    assert client.get(step_url("manage"), {"u": user.pk}).status_code == 403


def test_a_privileged_authentication_administrator_manages_a_global_admin(
    client: Client,
) -> None:
    client.force_login(
        make_user("paa@contoso.test", admin_role=roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR)
    )
    other = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    assert pane_steps(client, other) == ["manage"]


def test_admin_gets_steps_for_other_admins(admin_client: Client) -> None:
    other = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    assert pane_steps(admin_client, other) == ["enable", "manage"]


def test_nothing_selected_shows_a_hint_not_steps(admin_client: Client) -> None:
    html = admin_client.get(PANE, HTTP_HX_REQUEST="true").content.decode()
    assert "Select one or more users to see the quick steps." in html


def test_without_javascript_the_pane_is_a_page_with_plain_forms(admin_client: Client) -> None:
    user = make_user("pat@contoso.test")
    response = admin_client.get(PANE, {"u": user.pk})
    html = response.content.decode()
    assert "<html" in html
    assert 'formaction="/admin/users/steps/enable/"' in html
    dialog = admin_client.get(step_url("enable"), {"u": user.pk}).content.decode()
    assert "<html" in dialog
    assert '<form method="post" action="/admin/users/steps/enable/"' in dialog
    # A page has no dialog to swap the answer into: the form posts as a plain form, with
    # JavaScript on or off.
    assert "hx-post" not in dialog
    in_dialog = admin_client.get(
        step_url("enable"), {"u": user.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-target="#modal-body"' in in_dialog


# --- the dialogs --------------------------------------------------------------------------------


def test_enable_dialog_has_microsofts_wording_and_the_registration_link(
    admin_client: Client,
) -> None:
    user = make_user("pat@contoso.test")
    html = admin_client.get(
        step_url("enable"), {"u": user.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "About enabling multi-factor auth" in html
    assert "you can send them to this link to register for multi-factor auth" in html
    assert "http://testserver/mfa/setup/" in html
    assert ">enable multi-factor auth</button>" in html
    assert ">cancel</button>" in html


def test_enforce_dialog_explains_app_passwords_and_warns_about_unregistered_users(
    admin_client: Client,
) -> None:
    unregistered = make_user("new@contoso.test", state=MfaState.ENABLED)
    registered = make_user("reg@contoso.test", state=MfaState.ENABLED, registered=True)
    html = admin_client.get(
        step_url("enforce"), {"u": [unregistered.pk, registered.pk]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "About enforcing multi-factor auth" in html
    assert "app passwords" in html
    assert "1 of the selected users has not registered yet" in html
    assert ">enforce multi-factor auth</button>" in html


def test_enforce_dialog_warns_that_enforced_admins_can_only_use_the_browser(
    admin_client: Client,
) -> None:
    other = make_user(
        "ga2@contoso.test", state=MfaState.ENABLED, admin_role=roles.GLOBAL_ADMINISTRATOR
    )
    html = admin_client.get(
        step_url("enforce"), {"u": other.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Admins whose status is Enforced can only sign in through the browser" in html


def test_disable_dialog_asks_yes_or_no(admin_client: Client) -> None:
    user = make_user("pat@contoso.test", display_name="Pat Doe", state=MfaState.ENFORCED)
    html = admin_client.get(
        step_url("disable"), {"u": user.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Disable multi-factor authentication?" in html
    assert "Do you want to disable multi-factor auth for Pat Doe?" in html
    assert ">yes</button>" in html
    assert ">no</button>" in html


def test_manage_user_settings_dialog_has_the_three_options(admin_client: Client) -> None:
    user = make_user("pat@contoso.test")
    html = admin_client.get(
        step_url("manage"), {"u": user.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    for label in (
        "Require selected users to provide contact methods again",
        "Delete all existing app passwords generated by the selected users",
        "Restore multi-factor authentication on all remembered devices",
    ):
        assert label in html
    assert ">save</button>" in html


def test_enable_makes_users_enabled_and_ends_in_updates_successful(
    admin_client: Client, admin: DirectoryUser
) -> None:
    first = make_user("one@contoso.test")
    second = make_user("two@contoso.test")
    response = admin_client.post(
        step_url("enable"), {"u": [first.pk, second.pk]}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "Updates successful" in html
    assert "2 updated" in html
    assert ">close</button>" in html
    assert response["HX-Trigger"] == "mfa-users-changed"
    assert state_of(first) == MfaState.ENABLED
    assert state_of(second) == MfaState.ENABLED
    event = AuditEvent.objects.get(target=first, action="mfa.state")
    assert (event.actor, event.before, event.after, event.source) == (
        admin,
        "Disabled",
        "Enabled",
        "page",
    )
    assert event.ip_address == "127.0.0.1"


def test_enabling_a_registered_user_makes_them_enforced_and_says_so(
    admin_client: Client,
) -> None:
    user = make_user("reg@contoso.test", registered=True)
    admin_client.post(step_url("enable"), {"u": user.pk}, HTTP_HX_REQUEST="true")
    assert state_of(user) == MfaState.ENFORCED
    row = BulkJobRow.objects.get(user_principal_name="reg@contoso.test")
    assert row.reason == "Already registered, so Enabled became Enforced."


def test_updates_successful_names_the_users_whose_enable_became_enforced(
    admin_client: Client,
) -> None:
    registered = make_user("reg@contoso.test", registered=True)
    fresh = make_user("fresh@contoso.test")
    html = admin_client.post(
        step_url("enable"), {"u": [registered.pk, fresh.pk]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Updates successful" in html and "2 updated" in html
    assert "Enforced, not Enabled" in html
    became = re.search(r'<ul class="problem-users became-enforced">(.*?)</ul>', html, re.S)
    assert became is not None
    assert "reg@contoso.test" in became.group(1) and "fresh@contoso.test" not in became.group(1)
    # Nothing to say when nobody was registered.
    html = admin_client.post(
        step_url("enable"), {"u": [make_user("new@contoso.test").pk]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Updates successful" in html and "Enforced, not Enabled" not in html


def test_enforce_and_disable_change_the_state(admin_client: Client) -> None:
    user = make_user("pat@contoso.test", state=MfaState.ENABLED, registered=True)
    admin_client.post(step_url("enforce"), {"u": user.pk}, HTTP_HX_REQUEST="true")
    assert state_of(user) == MfaState.ENFORCED
    admin_client.post(step_url("disable"), {"u": user.pk}, HTTP_HX_REQUEST="true")
    assert state_of(user) == MfaState.DISABLED
    # Disable keeps the registered methods.
    assert VerificationMethod.objects.filter(user=user).exists()


def test_updates_successful_lists_each_user_that_was_not_updated_and_why(
    admin_client: Client,
) -> None:
    licensed = make_user("lic@contoso.test")
    unlicensed = make_user("nolic@contoso.test", is_licensed=False)
    html = admin_client.post(
        step_url("enable"), {"u": [licensed.pk, unlicensed.pk]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Updates successful" in html
    assert "1 updated" in html
    assert "1 skipped" in html
    assert "nolic@contoso.test" in html
    assert "Only licensed users are eligible for multi-factor authentication." in html
    assert state_of(unlicensed) == MfaState.DISABLED


def test_helpdesk_manage_on_a_mix_changes_ordinary_users_and_skips_privileged_ones(
    helpdesk_client: Client,
) -> None:
    ordinary = make_user("pat@contoso.test")
    privileged = make_user("ga2@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    for user in (ordinary, privileged):
        AppPassword.objects.create(user=user, name="Outlook", digest=f"{user.pk:064d}")
    html = helpdesk_client.post(
        step_url("manage"),
        {"u": [ordinary.pk, privileged.pk], "delete_app_passwords": "on"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert not AppPassword.objects.filter(user=ordinary).exists()
    assert AppPassword.objects.filter(user=privileged).exists()
    assert "ga2@contoso.test" in html
    assert "can&#x27;t change users who hold a privileged admin role" in html


def test_manage_user_settings_applies_each_chosen_option(admin_client: Client) -> None:
    user = make_user("pat@contoso.test", state=MfaState.ENFORCED, registered=True)
    AppPassword.objects.create(user=user, name="Outlook", digest="a" * 64)
    RememberedDevice.objects.create(
        user=user, digest="b" * 64, expires_at="2030-01-01T00:00:00Z", label="Laptop"
    )
    html = admin_client.post(
        step_url("manage"),
        {
            "u": user.pk,
            "require_reregistration": "on",
            "delete_app_passwords": "on",
            "restore_remembered_devices": "on",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Updates successful" in html
    mfa = UserMfa.objects.get(user=user)
    assert mfa.must_register
    assert mfa.remember_devices_not_issued_before is not None
    assert not VerificationMethod.objects.filter(user=user).exists()
    assert not AppPassword.objects.filter(user=user).exists()
    assert not RememberedDevice.objects.filter(user=user).exists()
    actions = set(AuditEvent.objects.filter(target=user).values_list("action", flat=True))
    assert {
        "mfa.reregistration_required",
        "mfa.app_passwords_deleted",
        "mfa.remembered_devices_restored",
    } <= actions


def test_manage_user_settings_with_one_option_touches_nothing_else(admin_client: Client) -> None:
    user = make_user("pat@contoso.test", state=MfaState.ENFORCED, registered=True)
    AppPassword.objects.create(user=user, name="Outlook", digest="a" * 64)
    admin_client.post(
        step_url("manage"),
        {"u": user.pk, "delete_app_passwords": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert not AppPassword.objects.filter(user=user).exists()
    assert VerificationMethod.objects.filter(user=user).exists()
    assert not UserMfa.objects.get(user=user).must_register


def test_manage_user_settings_without_a_choice_asks_for_one(admin_client: Client) -> None:
    user = make_user("pat@contoso.test")
    html = admin_client.post(
        step_url("manage"), {"u": user.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Choose at least one setting to apply." in html
    assert not BulkJob.objects.exists()


def test_a_step_with_nothing_selected_changes_nothing(admin_client: Client) -> None:
    html = admin_client.post(step_url("enable"), {}, HTTP_HX_REQUEST="true").content.decode()
    assert "Select one or more users first." in html
    assert not BulkJob.objects.exists()


def test_without_javascript_a_step_redirects_to_its_result_page(admin_client: Client) -> None:
    user = make_user("pat@contoso.test")
    response = admin_client.post(step_url("enable"), {"u": user.pk})
    job = BulkJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin_portal:job", args=[job.pk])
    assert "Updates successful" in admin_client.get(response["Location"]).content.decode()


def test_an_unknown_step_or_a_garbled_selection_is_a_bad_request(admin_client: Client) -> None:
    assert admin_client.get(step_url("delete-everyone")).status_code == 400
    garbled = admin_client.get(PANE, {"u": ["x", "-3", ""]}, HTTP_HX_REQUEST="true")
    assert "Select one or more users" in garbled.content.decode()
    too_many = admin_client.get(PANE, {"u": [str(n) for n in range(1, 300)]})
    assert too_many.status_code == 400


# --- select all that match --------------------------------------------------------------------


def test_select_all_banner_offers_the_capped_count_of_matching_users(
    admin_client: Client,
) -> None:
    bulk_users(60, prefix="match")
    html = admin_client.get(
        reverse("admin_portal:users_count"), {"q": "match"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Select all 60 users that match this view" in html


def test_select_all_count_stops_at_a_thousand(admin_client: Client, monkeypatch) -> None:
    from mfaportal.admin_portal.views import users as users_views

    monkeypatch.setattr(users_views, "COUNT_CAP", 25)
    bulk_users(30, prefix="many")
    html = admin_client.get(
        reverse("admin_portal:users_count"), {"q": "many"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Select all users that match this view (more than 25)" in html


def test_select_all_matching_applies_to_exactly_the_matching_users(
    admin_client: Client, admin: DirectoryUser
) -> None:
    matching = bulk_users(70, prefix="adq")  # 70 users: more than a page
    enabled_already = bulk_users(5, prefix="adq-enabled", state=MfaState.ENABLED)
    other_prefix = bulk_users(5, prefix="zed")
    blocked = bulk_users(5, prefix="adq-blocked", account_enabled=False)
    params = {"q": "adq", "status": "disabled", "all": "1"}
    pane = admin_client.get(PANE, params, HTTP_HX_REQUEST="true").content.decode()
    assert "70 users selected" in pane
    admin_client.post(step_url("enable"), params, HTTP_HX_REQUEST="true")
    assert set(states(matching).values()) == {MfaState.ENABLED}
    assert set(states(other_prefix).values()) == {MfaState.DISABLED}
    assert set(states(blocked).values()) == {MfaState.DISABLED}
    assert set(states(enabled_already).values()) == {MfaState.ENABLED}
    job = BulkJob.objects.get()
    assert job.total == 70
    # Every matching user, in id order: the order the job works through and reports them.
    assert job.user_ids == sorted(user.pk for user in matching)


def test_readers_cannot_select_all_matching_and_helpdesk_gets_only_manage(
    client: Client, helpdesk_client: Client
) -> None:
    bulk_users(5, prefix="adq")
    assert helpdesk_client.get(PANE, {"all": "1"}).status_code == 200
    html = helpdesk_client.get(PANE, {"all": "1"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-focus-key="step-manage"' in html and "step-enable" not in html
    assert (
        helpdesk_client.post(step_url("enable"), {"all": "1"}, HTTP_HX_REQUEST="true").status_code
        == 403
    )
    client.force_login(make_user("reader@contoso.test", admin_role=roles.GLOBAL_READER))
    assert client.get(PANE, {"all": "1"}).status_code == 403
    assert client.post(step_url("manage"), {"all": "1"}).status_code == 403


def test_select_all_steps_follow_the_status_filter(admin_client: Client) -> None:
    bulk_users(3, prefix="st", state=MfaState.ENFORCED)
    steps = re.findall(
        r'hx-get="/admin/users/steps/(\w+)/"',
        admin_client.get(
            PANE, {"status": "enforced", "all": "1"}, HTTP_HX_REQUEST="true"
        ).content.decode(),
    )
    assert steps == ["disable", "manage"]


# --- large selections run in the background ---------------------------------------------------


def test_a_large_selection_runs_as_a_background_job_with_progress(
    admin_client: Client,
    admin: DirectoryUser,
    monkeypatch,
    django_capture_on_commit_callbacks,
) -> None:
    monkeypatch.setattr(runner, "INLINE_LIMIT", 10)
    monkeypatch.setattr(runner, "CHUNK", 7)
    monkeypatch.setattr(runner, "SET_BASED_CHUNK", 7)
    users = bulk_users(30, prefix="big")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            step_url("enforce"), {"q": "big", "all": "1"}, HTTP_HX_REQUEST="true"
        )
    html = response.content.decode()
    job = BulkJob.objects.get()
    # The dialog shows a progress bar that polls until the job is done.
    assert "<progress" in html
    assert 'hx-trigger="every 1s"' in html
    assert job.status == BulkJob.Status.QUEUED
    assert response["HX-Trigger"] == "mfa-jobs-changed"
    assert set(states(users).values()) == {MfaState.DISABLED}
    # The task is queued once the request's transaction commits; the worker runs it.
    assert len(callbacks) == 1
    callbacks[0]()
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.changed) == (BulkJob.Status.SUCCEEDED, 30, 30, 30)
    assert set(states(users).values()) == {MfaState.ENFORCED}
    polled = admin_client.get(
        reverse("admin_portal:job", args=[job.pk]),
        {"polling": "1", "in_dialog": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert "Updates successful" in polled.content.decode()
    assert polled["HX-Trigger"] == "mfa-users-changed"
    # The admin can come back to it from the users page.
    page = admin_client.get(reverse("admin_portal:users")).content.decode()
    assert reverse("admin_portal:job", args=[job.pk]) in page


def test_a_running_job_shows_how_far_it_got(admin_client: Client, admin: DirectoryUser) -> None:
    job = BulkJob.objects.create(
        kind=BulkJob.Kind.STATE,
        created_by=admin,
        params={"state": 2},
        total=4000,
        done=1000,
        status=BulkJob.Status.RUNNING,
    )
    html = admin_client.get(reverse("admin_portal:job", args=[job.pk])).content.decode()
    assert '<progress id="progress-' in html
    assert 'max="4000" value="1000"' in html
    assert "1,000 of 4,000 done" in html
    assert "Enforce multi-factor auth for 4,000 users" in html
    # A screen reader hears the progress in tenths, from a status line outside the polled part.
    assert 'data-announce="Updating: 20% done"' in html
    assert '<p class="visually-hidden" role="status" id="job-status"></p>' in html
    assert "aria-live" not in html
    # Worded when shown: a Spanish admin reads the same job in Spanish.
    spanish = admin_client.get(
        reverse("admin_portal:job", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "Aplicar la autenticación multifactor para 4\xa0000 usuarios" in spanish
    # No timed reload (WCAG 2.2.1): without JavaScript, the reader refreshes when they like.
    assert '<meta http-equiv="refresh"' not in html
    assert (
        f"""<a id="job-refresh" href="{reverse("admin_portal:job", args=[job.pk])}">Refresh</a>"""
        in html
    )


def test_an_interrupted_job_resumes_after_its_last_finished_chunk(
    admin_client: Client, admin: DirectoryUser, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    monkeypatch.setattr(runner, "CHUNK", 4)
    monkeypatch.setattr(runner, "SET_BASED_CHUNK", 4)
    users = bulk_users(10, prefix="resume")
    job = jobs.state_job_create(
        step="enable", user_ids=[user.pk for user in users], actor=admin, ip_address=None
    )
    # The worker died after the first chunk.
    calls = []

    def stop_after_one(job: BulkJob) -> None:
        calls.append(1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        jobs.job_run(job.pk, progress=stop_after_one)
    job.refresh_from_db()
    assert (job.status, job.done) == (BulkJob.Status.RUNNING, 4)
    BulkJob.objects.filter(pk=job.pk).update(heartbeat_at="2000-01-01T00:00:00Z")
    html = admin_client.get(reverse("admin_portal:job", args=[job.pk])).content.decode()
    assert "has not moved for a few minutes" in html
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin_portal:job_resume", args=[job.pk]))
    job.refresh_from_db()
    assert (job.status, job.done, job.changed) == (BulkJob.Status.SUCCEEDED, 10, 10)
    # Every user was changed exactly once: one audit event each.
    assert AuditEvent.objects.filter(action="mfa.state").count() == 10
    assert BulkJobRow.objects.filter(job=job).count() == 10
    assert set(states(users).values()) == {MfaState.ENABLED}


def test_a_failing_chunk_reports_its_users_as_failed_and_the_rest_still_apply(
    admin: DirectoryUser, monkeypatch
) -> None:
    monkeypatch.setattr(runner, "CHUNK", 3)
    monkeypatch.setattr(runner, "SET_BASED_CHUNK", 3)
    users = bulk_users(6, prefix="flaky")
    real_apply = runner.apply_chunk
    attempts = []

    def apply_failing_first(job, chunk, context):
        attempts.append(len(chunk))
        if len(attempts) == 1:
            raise RuntimeError("directory unavailable (503)")
        return real_apply(job, chunk, context)

    monkeypatch.setattr(runner, "apply_chunk", apply_failing_first)
    job = jobs.state_job_create(
        step="enable", user_ids=[user.pk for user in users], actor=admin, ip_address=None
    )
    jobs.job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.failed, job.changed) == (BulkJob.Status.SUCCEEDED, 3, 3)
    failed = BulkJobRow.objects.filter(job=job, outcome="failed")
    assert {row.reason for row in failed} == {"Not updated: directory unavailable (503)"}
    assert [state for state in states(users).values()].count(MfaState.ENABLED) == 3


def test_results_csv_lists_every_user_with_its_outcome(admin_client: Client) -> None:
    ok = make_user("ok@contoso.test")
    nolic = make_user("=cmd@contoso.test", is_licensed=False)
    admin_client.post(step_url("enable"), {"u": [ok.pk, nolic.pk]}, HTTP_HX_REQUEST="true")
    job = BulkJob.objects.get()
    response = admin_client.get(reverse("admin_portal:job_results", args=[job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(streamed_text(response))))
    assert rows[0] == ["Line", "Username", "Requested", "Result", "Detail"]
    by_user = {row[1]: row for row in rows[1:]}
    assert by_user["ok@contoso.test"][3] == "Updated"
    # A user name that a spreadsheet would run as a formula is neutralised.
    assert by_user["'=cmd@contoso.test"][3] == "Skipped"


def test_a_job_is_visible_to_every_admin_role_and_resumable_by_those_who_could_start_it(
    client: Client, helpdesk_client: Client, admin: DirectoryUser
) -> None:
    job = BulkJob.objects.create(kind=BulkJob.Kind.STATE, created_by=admin, params={"state": 1})
    url = reverse("admin_portal:job", args=[job.pk])
    assert helpdesk_client.get(url).status_code == 200
    # A state job: an authentication administrator could not have started it.
    resume = reverse("admin_portal:job_resume", args=[job.pk])
    assert helpdesk_client.post(resume).status_code == 403
    client.force_login(make_user("reader@contoso.test", admin_role=roles.REPORTS_READER))
    assert client.get(url).status_code == 200
    assert client.post(resume).status_code == 403
