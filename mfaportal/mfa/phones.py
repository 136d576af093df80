"""Phone numbers: the country picker, parsing to E.164, and masking for display."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
from django.utils.translation import get_language, gettext_lazy, override
from django.utils.translation import gettext as _

DEFAULT_REGION = "US"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Country:
    region: str
    name: str
    calling_code: int

    @property
    def label(self) -> str:
        return f"{self.name} (+{self.calling_code})"


# Regions phonenumbers dials but its geocoder has no name for.
_UNNAMED_REGIONS = {
    "AC": gettext_lazy("Ascension Island"),
    "TA": gettext_lazy("Tristan da Cunha"),
    "XK": gettext_lazy("Kosovo"),
}


def _collation_key(name: str) -> str:
    """Sort as a reader expects: "Åland" beside "Albania", "Émirats" among the E's."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def countries() -> tuple[Country, ...]:
    """Every region phonenumbers knows, named and sorted in the active language."""
    return _countries(get_language() or DEFAULT_LANGUAGE)


@cache
def _countries(language: str) -> tuple[Country, ...]:
    # The geocoder's data costs ~100 MB: load it only when a country picker is drawn, not in
    # every process that imports this module (workers, sync).
    from phonenumbers import geocoder

    base = language.split("-")[0]
    found = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        name = geocoder._region_display_name(region, base) or geocoder._region_display_name(
            region, DEFAULT_LANGUAGE
        )
        if not name:
            with override(language):
                name = str(_UNNAMED_REGIONS.get(region, region))
        found.append(Country(region, name, phonenumbers.country_code_for_region(region)))
    return tuple(sorted(found, key=lambda country: _collation_key(country.name)))


def country_choices() -> list[tuple[str, str]]:
    return [(country.region, country.label) for country in countries()]


class PhoneNumberError(ValueError):
    pass


def phone_parse(number: str, *, region: str) -> str:
    """A number typed with a chosen country → E.164, or PhoneNumberError with a clear reason."""
    number = number.strip()
    if not number:
        raise PhoneNumberError(_("Enter a phone number."))
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise PhoneNumberError(_("Choose your country or region."))
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as error:
        raise PhoneNumberError(_("That doesn't look like a phone number.")) from error
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneNumberError(
            _("That isn't a valid phone number for the country or region you chose.")
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class _Shown:
    region: str
    national: str
    international: str
    masked: str


@lru_cache(maxsize=1024)
def _shown(e164: str) -> _Shown:
    """A stored number's ways of being shown, worked out once per number a process shows:
    parsing costs ~16 µs and each format ~8 µs, and Additional security verification shows a
    person's numbers four ways on every view (issue 15). Bounded, and held only in memory."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return _Shown(DEFAULT_REGION, e164, e164, "XXXXXXXX")
    national = str(parsed.national_number)
    return _Shown(
        region=phonenumbers.region_code_for_number(parsed) or DEFAULT_REGION,
        national=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        international=phonenumbers.format_number(
            parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
        masked=f"+{parsed.country_code} {'X' * max(len(national) - 2, 0)}{national[-2:]}",
    )


def phone_region(e164: str) -> str:
    return _shown(e164).region


def phone_national(e164: str) -> str:
    return _shown(e164).national


def phone_international(e164: str) -> str:
    return _shown(e164).international


def phone_mask(e164: str) -> str:
    """+1 XXXXXXXX23: enough to recognise the number, not enough to learn it."""
    return _shown(e164).masked


def extension_clean(extension: str) -> str:
    extension = extension.strip()
    if extension and (not extension.isdigit() or len(extension) > 10):
        raise PhoneNumberError(_("An extension is up to 10 digits."))
    return extension
