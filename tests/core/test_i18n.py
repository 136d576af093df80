"""Internationalisation: every visible string is translatable, Spanish is complete, and the
language comes from the browser or the user's choice (DESIGN §8, issue 6)."""

from __future__ import annotations

import re
import shutil
from contextlib import chdir
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.base import Lexer, TokenType
from django.test import Client, override_settings
from django.utils import timezone, translation
from django.utils.formats import date_format

from mfaportal.admin_portal.models import users_counted
from mfaportal.core import roles
from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.core.templatetags.portal import when
from tests.factories import make_user

TEMPLATES = Path(settings.BASE_DIR) / "templates"
SPANISH_PO = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES" / "django.po"

# Attributes a person reads or hears; every other attribute is markup.
VISIBLE_ATTRIBUTES = {"placeholder", "title", "aria-label", "aria-description", "alt"}
# Blocks whose text is an attribute value (a class name), not something a person reads.
MARKUP_BLOCKS = {"main_class"}
# Text that stays as it is in every language: MSOnline's PowerShell names, shown verbatim on
# the user detail page as the original shows them, and the time zone.
NOT_WORDS = {
    "StrongAuthenticationMethods",
    "StrongAuthenticationRequirements",
    "MethodType",
    "IsDefault",
    "RelyingParty",
    "State",
    "RememberDevicesNotIssuedBefore",
    "True",
    "False",
    "UTC",
}
WORD = re.compile(r"[^\W\d_]{2,}")
EMAIL_LIKE = re.compile(r"\S*@\S*")


def _untranslated_text(source: str) -> str:
    """The template's literal text outside translation tags; every tag becomes a space."""
    parts: list[str] = []
    skip_until: str | None = None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            bits = token.contents.split()
            name = bits[0] if bits else ""
            if skip_until is not None:
                if name == skip_until:
                    skip_until = None
                continue
            if name in {"blocktranslate", "blocktrans", "comment", "verbatim"}:
                skip_until = "end" + name
            elif name == "block" and len(bits) > 1 and bits[1] in MARKUP_BLOCKS:
                skip_until = "endblock"
            parts.append(" ")
        elif skip_until is None:
            parts.append(token.contents if token.token_type == TokenType.TEXT else " ")
    return "".join(parts)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._raw = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._raw += 1
        kind = dict(attrs).get("type")
        for name, value in attrs:
            button_value = name == "value" and tag == "input" and kind in {"submit", "button"}
            if value and (name in VISIBLE_ATTRIBUTES or button_value):
                self.found.append((self.getpos()[0], value))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._raw -= 1

    def handle_data(self, data: str) -> None:
        if not self._raw and data.strip():
            self.found.append((self.getpos()[0], data.strip()))


def untranslated_strings(source: str) -> list[tuple[int, str]]:
    parser = _VisibleText()
    parser.feed(_untranslated_text(source))
    parser.close()
    found = []
    for line, text in parser.found:
        words = [w for w in WORD.findall(EMAIL_LIKE.sub(" ", text)) if w not in NOT_WORDS]
        if words:
            found.append((line, text))
    return found


def test_the_checker_finds_text_and_attributes_outside_translate_tags() -> None:
    source = (
        '{% load i18n %}<h1>{% translate "Users" %}</h1><p class="muted">Hello there</p>'
        '<input placeholder="Search users" aria-label="{% translate \'Search\' %}">'
        "{% blocktranslate %}Applies to {{ who }}.{% endblocktranslate %}"
        "{% comment %}Not shown{% endcomment %}<td>MethodType</td>"
    )
    assert [text for _, text in untranslated_strings(source)] == ["Hello there", "Search users"]


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_template_has_no_untranslated_visible_string(template: Path) -> None:
    found = untranslated_strings(template.read_text(encoding="utf-8"))
    assert not found, "Wrap in {% translate %} / {% blocktranslate %}:\n" + "\n".join(
        f"  {template.relative_to(TEMPLATES)}, line {line}: {text!r}" for line, text in found
    )


def _po_entries(text: str) -> list[dict[str, str]]:
    entries = []
    for block in text.strip().split("\n\n"):
        entry: dict[str, str] = {"flags": ""}
        field = ""
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line[2:]
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry[field] += line[1:-1]
            else:
                field, _, value = line.partition(" ")
                entry[field] = value[1:-1]
        entries.append(entry)
    return entries


def test_every_message_has_a_spanish_translation() -> None:
    entries = _po_entries(SPANISH_PO.read_text(encoding="utf-8"))
    header = entries[0]
    messages = [entry for entry in entries[1:] if "msgid" in entry]  # not obsolete ``#~``
    assert header["msgid"] == ""
    assert "Language: es" in header["msgstr"]
    assert len(messages) > 500
    problems = []
    for entry in messages:
        translations = [value for key, value in entry.items() if key.startswith("msgstr")]
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {entry['msgid']}")
        if not translations or not all(t.strip() for t in translations):
            problems.append(f"untranslated: {entry['msgid']}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_english_is_the_default_without_accept_language(client: Client) -> None:
    response = client.get("/signin/")
    assert '<html lang="en' in response.content.decode()
    assert "Sign in to MFA Portal" in response.content.decode()


@pytest.mark.django_db
def test_a_spanish_browser_gets_spanish_pages(client: Client) -> None:
    page = client.get("/signin/", HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9,en;q=0.5").content.decode()
    assert '<html lang="es">' in page
    assert "Iniciar sesión en MFA Portal" in page
    assert "Nombre de usuario" in page
    assert "Sign in to MFA Portal" not in page


@pytest.mark.django_db
def test_the_language_picker_switches_back_to_english(client: Client) -> None:
    spanish = client.get("/signin/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert 'action="/i18n/setlang/"' in spanish
    assert '<option value="en" lang="en">English</option>' in spanish
    response = client.post(
        "/i18n/setlang/", {"language": "en", "next": "/signin/"}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert response.status_code == 302
    assert response["Location"] == "/signin/"
    # The choice outlives the browser's preference.
    page = client.get("/signin/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Sign in to MFA Portal" in page
    assert '<option value="en" lang="en" selected>English</option>' in page


@pytest.mark.django_db
def test_the_language_picker_refuses_an_outside_next(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "es", "next": "https://evil.test/"})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_numbers_and_dates_follow_the_language() -> None:
    moment = timezone.make_aware(datetime(2026, 3, 4, 15, 30))
    with translation.override("en"):
        assert users_counted(12345) == "12,345 users"
        assert date_format(moment, "SHORT_DATE_FORMAT") == "03/04/2026"
    with translation.override("es"):
        # Spanish groups thousands with a (non-breaking) space, as the RAE recommends.
        assert users_counted(12345) == "12\xa0345 usuarios"
        assert date_format(moment, "SHORT_DATE_FORMAT") == "04/03/2026"


def test_a_moment_reads_in_the_language_and_keeps_the_exact_instant_for_machines() -> None:
    moment = timezone.make_aware(datetime(2026, 3, 4, 15, 30, 9))
    exact = 'datetime="2026-03-04T15:30:09+00:00"'
    with translation.override("en"):
        assert when(moment) == f"<time {exact}>03/04/2026 3:30 PM UTC</time>"
        assert when(moment, "seconds") == f"<time {exact}>03/04/2026 3:30:09 PM UTC</time>"
    with translation.override("es"):
        assert when(moment) == f"<time {exact}>04/03/2026 15:30 UTC</time>"
        assert when(moment, "seconds") == f"<time {exact}>04/03/2026 15:30:09 UTC</time>"
    assert when(None) == ""


def test_a_moment_is_shown_in_the_portals_time_zone_named() -> None:
    moment = timezone.make_aware(datetime(2026, 3, 4, 15, 30))
    with override_settings(TIME_ZONE="Europe/Madrid"), translation.override("es"):
        assert when(moment) == (
            '<time datetime="2026-03-04T16:30:00+01:00">04/03/2026 16:30 CET</time>'
        )


@pytest.mark.django_db
def test_the_audit_log_shows_dates_in_the_readers_language(client: Client) -> None:
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    adele = make_user("adele@contoso.test")
    audit_record(
        ChangeContext(actor=admin, source=AuditSource.PAGE),
        AuditEntry.about(adele, "mfa.state", before="Disabled", after="Enabled"),
    )
    at = timezone.localtime(AuditEvent.objects.get(action="mfa.state").at)
    client.force_login(admin)
    english = client.get("/admin/audit/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = client.get("/admin/audit/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert f">{at:%m/%d/%Y} " in english
    assert f">{at:%d/%m/%Y %H:%M:%S} UTC</time>" in spanish
    assert f">{at:%Y-%m-%d}" not in english + spanish


def _message_ids(po: Path) -> set[tuple[str, str, str]]:
    """(context, message, plural) of every live entry: obsolete ``#~`` entries are history."""
    live = (
        entry
        for entry in _po_entries(po.read_text(encoding="utf-8"))[1:]
        if "msgid" in entry  # an obsolete entry has only comment lines
    )
    return {
        (entry.get("msgctxt", ""), entry["msgid"], entry.get("msgid_plural", "")) for entry in live
    }


@pytest.fixture(scope="module")
def extracted_messages(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str, str]]:
    """What ``makemessages`` extracts from the code and templates as they are now, run on a
    copy of the tree so the committed catalogue is never touched."""
    tree = tmp_path_factory.mktemp("messages")
    for folder in ("mfaportal", "templates"):
        shutil.copytree(
            Path(settings.BASE_DIR) / folder,
            tree / folder,
            ignore=shutil.ignore_patterns("__pycache__", "*.mo"),
        )
    catalogue = tree / "locale" / "es" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    shutil.copy(SPANISH_PO, catalogue / "django.po")
    with chdir(tree), override_settings(LOCALE_PATHS=[tree / "locale"]):
        call_command("makemessages", locale=["es"], verbosity=0)
    return _message_ids(catalogue / "django.po")


def test_the_spanish_catalogue_holds_every_message_the_code_has_and_no_other(
    extracted_messages: set[tuple[str, str, str]],
) -> None:
    committed = _message_ids(SPANISH_PO)
    missing = sorted(extracted_messages - committed)
    stale = sorted(committed - extracted_messages)
    assert not missing and not stale, (
        "locale/es/LC_MESSAGES/django.po is out of date: run"
        " `MFAPORTAL_DEBUG=true .venv/bin/python manage.py makemessages -l es --no-wrap"
        " --no-obsolete --ignore=.venv --ignore=node_modules`, translate, and commit.\n"
        + "".join(f"  not in the catalogue: {message!r}\n" for message in missing)
        + "".join(f"  no longer in the code: {message!r}\n" for message in stale)
    )


@pytest.mark.django_db
def test_built_in_role_names_are_shown_in_the_readers_language(client: Client) -> None:
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    make_user("helpdesk@contoso.test", admin_role=roles.AUTHENTICATION_ADMINISTRATOR)
    client.force_login(admin)
    users = client.get("/admin/users/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Administradores globales" in users and "Global administrators" not in users
    assert users.index("Administradores de autenticación") < users.index("Administradores globales")
    detail = client.get(
        f"/admin/users/{admin.object_id}/", HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "Administrador global" in detail
    english = client.get(f"/admin/users/{admin.object_id}/").content.decode()
    assert "Global Administrator" in english
    # The View dropdown is kept per language (issue 15): English after Spanish is English.
    users = client.get("/admin/users/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">Global administrators<" in users and "Administradores globales" not in users
