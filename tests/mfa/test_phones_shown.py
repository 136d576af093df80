"""How a stored phone number is shown: masked on the challenge page, national in the setup
page's fields, international in the password reset summary."""

from __future__ import annotations

import pytest

from mfaportal.mfa.phones import phone_international, phone_mask, phone_national, phone_region


@pytest.mark.parametrize(
    ("e164", "region", "national", "international", "masked"),
    [
        ("+14255550123", "US", "(425) 555-0123", "+1 425-555-0123", "+1 XXXXXXXX23"),
        ("+442079460958", "GB", "020 7946 0958", "+44 20 7946 0958", "+44 XXXXXXXX58"),
        # A stored value that no longer parses is shown as it is, and never breaks a page.
        ("not a number", "US", "not a number", "not a number", "XXXXXXXX"),
    ],
)
def test_a_stored_number_is_shown_the_same_each_time_it_is_asked(
    e164: str, region: str, national: str, international: str, masked: str
) -> None:
    for _ in range(2):  # worked out once, then remembered: the second answer must not differ
        assert phone_region(e164) == region
        assert phone_national(e164) == national
        assert phone_international(e164) == international
        assert phone_mask(e164) == masked


def test_a_number_shown_on_every_view_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: Additional security verification shows a person's numbers several ways on
    every view; the number is parsed the first time only."""
    import phonenumbers

    parsed: list[str] = []
    original = phonenumbers.parse

    def counted(number: str, *args: object, **kwargs: object) -> phonenumbers.PhoneNumber:
        parsed.append(number)
        return original(number, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(phonenumbers, "parse", counted)
    number = "+14255550177"
    for _view in range(3):
        phone_region(number), phone_national(number), phone_international(number)
        phone_mask(number)
    # At most once: another test of this process may have shown the number first.
    assert parsed in ([], [number])
