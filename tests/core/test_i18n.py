"""Internationalisation: every visible string is translatable, Spanish is complete, and the
language comes from the browser or the user's choice (DESIGN §8, issue 6)."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import date_format

from mfaportal.admin_portal import jobs

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
    header, messages = entries[0], entries[1:]
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
        assert jobs._users(12345) == "12,345 users"
        assert date_format(moment, "SHORT_DATE_FORMAT") == "03/04/2026"
    with translation.override("es"):
        # Spanish groups thousands with a (non-breaking) space, as the RAE recommends.
        assert jobs._users(12345) == "12\xa0345 usuarios"
        assert date_format(moment, "SHORT_DATE_FORMAT") == "04/03/2026"
