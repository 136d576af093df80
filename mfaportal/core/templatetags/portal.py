"""Template filters shared by every page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Any

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format, get_format
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import get_language, get_language_info

register = template.Library()


@register.filter
def when(value: datetime | None, precision: str = "minutes") -> str:
    """A moment in the reader's language and the portal's time zone, named, inside a <time>
    element that keeps the exact instant for machines: ``{{ event.at|when }}`` gives
    "03/04/2026 3:30 PM UTC", ``|when:"seconds"`` adds the second. Nothing at all for no
    moment, so ``|when|default:_("never")`` reads naturally."""
    if value is None or value == "":
        return ""
    if precision not in {"minutes", "seconds"}:
        raise template.TemplateSyntaxError(f'when takes "minutes" or "seconds", not {precision!r}')
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    # The date and the zone's name in one pass of Django's formatter (a list of fifty
    # sign-ins draws fifty of them).
    shown = date_format(
        local,
        get_format("DATETIME_FORMAT" if precision == "seconds" else "SHORT_DATETIME_FORMAT") + " T",
    )
    return SafeString(f'<time datetime="{local.isoformat()}">{escape(shown)}</time>')


@register.simple_tag
def options(choices: Iterable[tuple[Any, Any] | int], selected: Any) -> SafeString:
    """A select's ``<option>`` elements, the one whose value is ``selected`` marked, written as
    one string: ``{% options view_choices filter.view %}``. A list of roles is tens of options,
    which a template loop draws at ~20 µs each (issue 15). A choice is a (value, label) pair,
    or a whole number that is its own label (the page sizes). Values and labels are escaped.

    A tuple is a fixed list (the page sizes, the statuses or roles in one language): its
    options are written once per selected value and kept. Its labels are plain text, already
    in the reader's language; a lazy translation would be kept in the first reader's."""
    chosen = str(selected)
    if type(choices) is tuple:
        return _fixed_options(choices, chosen)
    return _options(choices, chosen)


@lru_cache(maxsize=512)
def _fixed_options(choices: tuple[tuple[Any, Any] | int, ...], chosen: str) -> SafeString:
    for choice in choices:
        if not isinstance(choice, int) and not all(isinstance(part, str | int) for part in choice):
            raise TypeError(f"a fixed list of choices holds plain text, not {choice!r}")
    return _options(choices, chosen)


def _options(choices: Iterable[tuple[Any, Any] | int], chosen: str) -> SafeString:
    pairs = ((choice, choice) if isinstance(choice, int) else choice for choice in choices)
    return SafeString(
        "".join(
            f'<option value="{escape(str(value))}"'
            f"{' selected' if str(value) == chosen else ''}>{escape(str(label))}</option>"
            for value, label in pairs
        )
    )


@register.simple_tag
def language_options() -> SafeString:
    """The footer's language picker: each language the portal speaks, named in itself, the
    reader's own marked. The same for every page in a language, so built once per language
    (it cost ~1,400 Python calls a page as a template loop, issue 15)."""
    return _language_options(get_language())


@lru_cache(maxsize=16)
def _language_options(current: str | None) -> SafeString:
    found = []
    for code, _name in settings.LANGUAGES:
        local = escape(str(capfirst(get_language_info(code)["name_local"])))
        chosen = " selected" if code == current else ""
        found.append(f'<option value="{code}" lang="{code}"{chosen}>{local}</option>')
    return SafeString("".join(found))
