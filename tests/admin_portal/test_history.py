"""History rows read as sentences (issue 13, item 8): on a user's page and in the audit log,
in the reader's language, with the portal's date format; never an event code, a bare
``0 → 0`` or an ISO timestamp."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.admin_portal import history
from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, VerificationMethod
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SOURCE = Path(__file__).resolve().parents[2] / "mfaportal"
ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


@pytest.fixture
def megan(admin: DirectoryUser) -> DirectoryUser:
    return make_user("megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED)


def record(actor: DirectoryUser | None, target: DirectoryUser, action: str, **fields) -> None:
    source = AuditSource.PAGE if actor is not None else AuditSource.SELF_SERVICE
    audit_record(
        ChangeContext(actor=actor, source=source), AuditEntry.about(target, action, **fields)
    )


def history_html(client: Client, user: DirectoryUser, language: str = "en") -> str:
    url = reverse("admin_portal:user_detail", args=[user.object_id])
    html = client.get(url, headers={"accept-language": language})
    section = html.content.decode().split('id="audit-title"', 1)[1].split("</section>", 1)[0]
    return section


@pytest.fixture
def a_busy_week(admin: DirectoryUser, megan: DirectoryUser) -> None:
    record(admin, megan, "mfa.state", before="Disabled", after="Enabled")
    record(None, megan, "mfa.method_registered", after="Authentication phone")
    record(
        None,
        megan,
        "mfa.state",
        before="Enabled",
        after="Enforced",
        detail={"reason": "registration completed"},
    )
    record(None, megan, "mfa.registration_completed")
    record(None, megan, "mfa.app_password_created", after="Outlook <laptop>", detail={"id": 1})
    record(admin, megan, "mfa.reregistration_required")
    record(admin, megan, "mfa.app_passwords_deleted", before="0", after="0")
    record(admin, megan, "mfa.app_passwords_deleted", before="2", after="0")
    record(
        admin,
        megan,
        "mfa.remembered_devices_restored",
        after="2026-03-04T15:30:12.123456+00:00",
    )
    record(
        admin, megan, "mfa.fraud_block_lifted", before="2026-03-04T15:30:12.123456+00:00", after=""
    )
    record(admin, megan, "directory.sessions_revoked")


def test_a_users_history_reads_as_sentences_without_codes_arrows_or_iso_times(
    helpdesk_client: Client, a_busy_week: None
) -> None:
    html = history_html(
        helpdesk_client, DirectoryUser.objects.get(user_principal_name="megan@contoso.test")
    )
    for sentence in (
        "Multi-factor auth status changed from Disabled to Enabled.",
        "Authentication phone registered.",
        "Multi-factor auth status changed from Enabled to Enforced when the user completed "
        "registration.",
        "Completed registration for multi-factor authentication.",
        "App password “Outlook &lt;laptop&gt;” created.",
        "Required to provide contact methods again at the next sign-in.",
        "There were no app passwords to delete.",
        "2 app passwords deleted.",
        "Multi-factor authentication restored on all remembered devices.",
        "Signed out of every browser and app session.",
    ):
        assert sentence in html, sentence
    # The moment a fraud block began, in the portal's date format.
    assert "Fraud block lifted (blocked since" in html
    assert '<time datetime="2026-03-04T15:30:12.123456+00:00">03/04/2026 3:30 PM UTC</time>' in html
    # What the page must not show: codes, a bare before → after, ISO timestamps as text.
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\b(mfa|directory|sspr|settings|report)\.[a-z_]+", text)
    assert "→" not in text
    assert "0 → 0" not in text
    assert not ISO_MOMENT.search(text)
    assert "Outlook <laptop>" not in html


def test_a_users_history_reads_in_spanish_for_a_spanish_reader(
    helpdesk_client: Client, a_busy_week: None
) -> None:
    html = history_html(
        helpdesk_client,
        DirectoryUser.objects.get(user_principal_name="megan@contoso.test"),
        language="es",
    )
    assert "El estado de la autenticación multifactor cambió de Deshabilitado a Habilitado." in html
    assert "Se eliminaron 2 contraseñas de aplicación." in html
    assert ">04/03/2026 15:30 UTC</time>" in html
    assert "Multi-factor auth status" not in html


def test_a_change_recorded_by_a_spanish_admin_reads_in_english_to_an_english_reader(
    helpdesk_client: Client, admin: DirectoryUser, megan: DirectoryUser
) -> None:
    """Older events stored the state as the acting admin read it, in their language."""
    record(admin, megan, "mfa.state", before="Deshabilitado", after="Habilitado")
    record(admin, megan, "mfa.method_deleted", before="Teléfono de autenticación")
    html = history_html(helpdesk_client, megan)
    assert "Multi-factor auth status changed from Disabled to Enabled." in html
    assert "Authentication phone deleted." in html


def test_a_registered_phone_is_named_by_its_kind_and_masked_number(
    helpdesk_client: Client, megan: DirectoryUser
) -> None:
    kind = VerificationMethod.Kind.OFFICE_PHONE
    record(None, megan, "mfa.method_registered", after="+1 XXX XXX 0123", detail={"kind": kind})
    record(
        None,
        megan,
        "mfa.method_changed",
        before="+1 XXX XXX 0123",
        after="+1 XXX XXX 0188",
        detail={"kind": kind},
    )
    html = history_html(helpdesk_client, megan)
    assert "Office phone +1 XXX XXX 0123 registered." in html
    assert "Office phone changed from +1 XXX XXX 0123 to +1 XXX XXX 0188." in html


def test_a_service_setting_change_names_the_setting_as_the_settings_page_does(
    admin_client: Client, admin: DirectoryUser
) -> None:
    audit_record(
        ChangeContext(actor=admin, source=AuditSource.PAGE),
        AuditEntry(
            "settings.updated",
            before="False",
            after="True",
            detail={"setting": "app_passwords_allowed"},
        ),
    )
    html = admin_client.get(reverse("admin_portal:audit")).content.decode()
    assert (
        "Service setting “Allow users to create app passwords to sign in to non-browser apps” "
        "changed from off to on."
    ) in html


def test_the_audit_log_shows_the_same_sentence_as_the_users_page(
    admin_client: Client, a_busy_week: None
) -> None:
    audit = admin_client.get(reverse("admin_portal:audit")).content.decode()
    assert "There were no app passwords to delete." in audit
    assert "Multi-factor auth status changed from Disabled to Enabled." in audit
    # The code stays beside it, for the Action filter that takes it.
    assert "<code" in audit and "mfa.app_passwords_deleted" in audit


def test_an_action_the_portal_does_not_know_is_still_shown(
    helpdesk_client: Client, admin: DirectoryUser, megan: DirectoryUser
) -> None:
    record(admin, megan, "future.thing", before="a", after="b")
    assert "future.thing" in history_html(helpdesk_client, megan)


def recorded_actions() -> set[str]:
    """Every audit action the code records: AuditEntry("x.y", ...), AuditEntry.about(user,
    "x.y", ...), and action="x.y"."""
    found: set[str] = set()
    pattern = re.compile(
        r'AuditEntry\(\s*"([a-z_]+\.[a-z_.]+)"'
        r'|AuditEntry\.about\(\s*\w+,\s*"([a-z_]+\.[a-z_.]+)"'
        r'|action="([a-z_]+\.[a-z_.]+)"'
        r'|"(mfa\.method_changed)" if before else "(mfa\.method_registered)"'
    )
    for path in SOURCE.rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            found.update(group for group in match.groups() if group)
    return found


def test_every_action_the_portal_records_has_a_sentence() -> None:
    actions = recorded_actions()
    assert {"mfa.state", "mfa.app_passwords_deleted", "sspr.method_proved"} <= actions
    assert not actions - history.ACTIONS.keys(), "add a sentence in admin_portal/history.py"


def test_every_sentence_is_worded_for_an_event_without_details(megan: DirectoryUser) -> None:
    """Old or odd rows (no before, after or detail) still read as a sentence."""
    from mfaportal.core.models import AuditEvent

    for action in history.ACTIONS:
        event = AuditEvent(action=action, at=datetime(2026, 3, 4, tzinfo=UTC), target=megan)
        sentence = history.event_sentence(event)
        assert sentence.strip().endswith("."), (action, sentence)
        assert action not in sentence
