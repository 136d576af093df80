"""The list's links (admin_portal.views.listing.url_with): the query string urlencode gives,
whatever an admin searched for."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from mfaportal.admin_portal.views.listing import url_with


@pytest.mark.parametrize(
    "params",
    [
        {"q": "zo", "size": 50},
        {"q": "Zoë Ab&c=d/é+%", "sort": "-upn", "after": "WyJaT0UiLDEyXQ", "page": 2},
        {"q": "a b", "view": "role:62e90394-69f5-4237-9190-012177145e10"},
        {"q": "~._-", "status": "", "before": None},
        {"status": "", "q": ""},
        {},
    ],
)
def test_a_link_carries_every_value_given_encoded_as_urlencode_encodes_it(
    params: dict[str, Any],
) -> None:
    given = {key: value for key, value in params.items() if value not in ("", None)}
    link = url_with("admin_portal:users", params)
    path, _mark, query = link.partition("?")
    assert path == "/admin/users/"
    assert query == urlencode(given)
    assert dict(parse_qsl(query)) == {key: str(value) for key, value in given.items()}
