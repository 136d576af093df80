"""The country picker of the phone forms, drawn once per language and reused.

A picker holds ~245 options and /mfa/setup/ shows three: drawn by a template loop, they were
three quarters of that page's time (issue 15). The options are escaped and joined once per
language; each render only marks the chosen country, by replacing its opening tag. The
forms' country fields take the list lazily (``country_choices`` as a callable), so a form
that is only drawn never builds it; one that checks a choice does.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from mfaportal.mfa.phones import DEFAULT_LANGUAGE, country_choices

register = template.Library()


@lru_cache(maxsize=32)
def _options(language: str) -> str:
    """Every country's ``<option>``, in ``language`` (the active one when called)."""
    return format_html_join("", '<option value="{}">{}</option>', country_choices())


@register.simple_tag
def country_options(field: BoundField) -> SafeString:
    """The ``<option>`` elements of a phone form's country field (the countries in the
    active language), its current value selected."""
    options = _options(get_language() or DEFAULT_LANGUAGE)
    plain = format_html('<option value="{}">', field.value())
    return SafeString(options.replace(plain, plain[:-1] + " selected>", 1))
