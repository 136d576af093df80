"""The country picker of the phone forms, drawn once per language and reused.

A picker holds ~245 options and /mfa/setup/ shows three: drawn by a template loop, they were
three quarters of that page's time (issue 15). The options are escaped and joined once per
language; each render only marks the chosen country, by replacing its opening tag. The
forms' country fields take the list lazily (``country_choices`` as a callable), so a form
that is only drawn never builds it; one that checks a choice does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

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


@register.simple_tag
def phone_fields(form: Any, phone_label: str = "") -> SafeString:
    """A phone form's row: country or region, number and, where the form has one, extension,
    each labelled, with the number's errors tied to it for screen readers. Drawn here rather
    than by a template: three rows on /mfa/setup/ cost half a millisecond through the form
    and template machinery (issue 15)."""
    country, phone = form["country"], form["phone"]
    phone_id = phone.auto_id
    errors = phone.errors
    described = (
        format_html(' aria-invalid="true" aria-describedby="{}_error"', phone_id) if errors else ""
    )
    parts: list[str] = [
        format_html(
            '<div class="phone-row">\n  <p class="field">\n    <label for="{}">{}</label>\n'
            '    <select id="{}" name="{}">\n      {}\n    </select>\n  </p>\n',
            country.auto_id,
            gettext("Country or region"),
            country.auto_id,
            country.html_name,
            country_options(country),
        ),
        format_html(
            '  <p class="field">\n    <label for="{}">{}</label>\n    <input id="{}" name="{}"'
            ' type="tel" autocomplete="tel-national" value="{}"{}>\n',
            phone_id,
            phone_label or gettext("Phone number"),
            phone_id,
            phone.html_name,
            phone.value() or "",
            described,
        ),
    ]
    if errors:
        parts.append(
            format_html(
                '    <span class="errorlist" id="{}_error">{}</span>\n',
                phone_id,
                " ".join(str(error) for error in errors),
            )
        )
    parts.append("  </p>\n")
    if "extension" in form.fields:
        extension = form["extension"]
        parts.append(
            format_html(
                '  <p class="field field-short">\n    <label for="{}">{}</label>\n'
                '    <input id="{}" name="{}" type="text" inputmode="numeric" value="{}">\n',
                extension.auto_id,
                gettext("Extension"),
                extension.auto_id,
                extension.html_name,
                extension.value() or "",
            )
        )
        if extension.errors:
            parts.append(
                format_html(
                    '    <span class="errorlist">{}</span>\n',
                    " ".join(str(error) for error in extension.errors),
                )
            )
        parts.append("  </p>\n")
    parts.append("</div>")
    return SafeString("".join(parts))
