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
