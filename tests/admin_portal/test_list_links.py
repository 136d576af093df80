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


def _listing(**links: str) -> Any:
    from mfaportal.admin_portal.views.listing import Listing
    from mfaportal.mfa.selectors.users import Sort, UserPage

    page = UserPage(rows=[object()], size=50, next_cursor=None, prev_cursor=None)  # type: ignore[list-item]
    return Listing(
        sort=Sort(), size=100, page=page, page_number=2, sort_links={}, this_url="/admin/users/",
        first_url=links.get("first", ""), next_url=links.get("next", ""),
        prev_url=links.get("prev", ""), size_url="/admin/users/",
    )  # fmt: skip


def test_the_pager_links_only_the_pages_there_are_with_their_addresses_escaped() -> None:
    from django.utils.translation import override

    from mfaportal.admin_portal.templatetags.admin_portal import pager

    html = pager(
        _listing(first="/admin/users/?q=a&b", next="/admin/users/?after=x"), "results", "filters"
    )
    assert 'href="/admin/users/?q=a&amp;b"' in html and 'id="page-first"' in html
    assert 'rel="next"' in html and 'id="page-prev"' not in html
    assert '<span class="page-number">Page 2</span>' in html
    assert '<option value="100" selected>100</option>' in html
    assert 'form="filters"' in html and 'hx-target="#results"' in html
    with override("es"):
        spanish = pager(_listing(prev="/admin/users/?before=y"), "results", "filters")
    assert "Página 2" in spanish and "Usuarios por página" in spanish and "Anterior" in spanish
