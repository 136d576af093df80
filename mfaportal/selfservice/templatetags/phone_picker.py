"""The country picker of the phone forms, drawn once per list of countries and reused.

A picker holds ~245 options and /mfa/setup/ shows three: drawn by a template loop, they were
three quarters of that page's time (issue 15). The options are escaped once per language
(the list of choices is the cache key, so a new language or a changed list draws anew);
each render only marks the chosen country.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.forms import BoundField
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

Option = tuple[str, str, str]  # value, the option's HTML, the same option selected


@lru_cache(maxsize=16)
def _options(choices: tuple[tuple[str, str], ...]) -> tuple[Option, ...]:
    return tuple(
        (
            str(value),
            format_html('<option value="{}">{}</option>', value, label),
            format_html('<option value="{}" selected>{}</option>', value, label),
        )
        for value, label in choices
    )


@register.simple_tag
def country_options(field: BoundField) -> SafeString:
    """The ``<option>`` elements of a country field, its current value selected."""
    chosen = field.value()
    choices = tuple((str(value), str(label)) for value, label in field.field.choices)  # type: ignore[attr-defined]
    return SafeString(
        "".join(
            selected if value == chosen else plain for value, plain, selected in _options(choices)
        )
    )
