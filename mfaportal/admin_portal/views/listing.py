"""A keyset-paged list of users, as the users tab and Active users show it: the page of rows
(``mfa.selectors.users.users_page``), the sort and pager links, and the page size that sticks.

Both lists read the same query parameters (``sort``, ``size``, ``after``/``before``, ``page``)
and keep the same page size, so paging one pages the other the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from mfaportal.core.reversing import reverse_plain
from mfaportal.mfa.selectors.users import (
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    SORT_FIELDS,
    Cursor,
    Sort,
    UserFilter,
    UserPage,
    users_page,
)

PAGE_SIZE_SESSION_KEY = "admin_users_page_size"


def page_size(request: HttpRequest) -> int:
    """The page size the admin chose, kept in the session so it sticks."""
    try:
        asked = int(request.GET.get("size", ""))
    except ValueError:
        asked = 0
    if asked in PAGE_SIZES:
        if request.session.get(PAGE_SIZE_SESSION_KEY) != asked:
            request.session[PAGE_SIZE_SESSION_KEY] = asked
        return asked
    stored = request.session.get(PAGE_SIZE_SESSION_KEY)
    return stored if stored in PAGE_SIZES else DEFAULT_PAGE_SIZE


def url_with(name: str, params: dict[str, Any]) -> str:
    """The route ``name`` with the non-empty ``params`` as its query string, encoded as
    ``urlencode`` encodes it. A page has a dozen such links, whose keys and most values
    (sizes, sorts, cursors, most searches) need no escaping: those are joined as they are,
    skipping ``quote_plus``'s ~8 calls a value (issue 15)."""
    query = "&".join(
        f"{key}={text}" if _PLAIN.fullmatch(key + (text := str(value))) else urlencode({key: text})
        for key, value in params.items()
        if value not in ("", None)
    )
    return reverse_plain(name) + ("?" + query if query else "")


# What urlencode leaves as it is: a value of these characters encodes to itself.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


@dataclass(frozen=True)
class SortLink:
    """A column header's link: the sort a click asks for, and how the column is sorted now."""

    url: str
    aria_sort: str  # "ascending", "descending", or "" for a column the list isn't sorted by
    mark: str  # the arrow shown beside the header

    @property
    def active(self) -> bool:
        return bool(self.aria_sort)


@dataclass(frozen=True)
class Listing:
    sort: Sort
    size: int
    page: UserPage
    page_number: int
    sort_links: dict[str, SortLink]
    this_url: str
    first_url: str
    next_url: str
    prev_url: str
    size_url: str  # where a new page size is asked for: the list with the filter form's values

    @property
    def multi_page(self) -> bool:
        return bool(self.page.next_cursor or self.page.prev_cursor)

    def context(self) -> dict[str, Any]:
        """What the list's template reads (the pager and sort header tags)."""
        return {
            "listing": self,
            "sort": self.sort,
            "sort_links": self.sort_links,
            "page": self.page,
            "page_number": self.page_number,
            "size": self.size,
            "this_url": self.this_url,
            "first_url": self.first_url,
            "next_url": self.next_url,
            "prev_url": self.prev_url,
            "multi_page": self.multi_page,
        }


def listing_read(
    request: HttpRequest, *, url_name: str, user_filter: UserFilter, params: dict[str, str]
) -> Listing:
    """One page of the users ``user_filter`` selects, as ``request`` asks for it; every link
    goes to ``url_name`` with the filter's own ``params`` once, then the sort, size and cursor."""
    sort = Sort.from_param(request.GET.get("sort"))
    size = page_size(request)
    after = Cursor.decode(request.GET.get("after"))
    before = None if after else Cursor.decode(request.GET.get("before"))
    page = users_page(user_filter, sort=sort, size=size, after=after, before=before)
    try:
        number = max(1, min(int(request.GET.get("page", "1")), 1_000_000))
    except ValueError:
        number = 1
    if not after and not before:
        number = 1

    with_size = {**params, "sort": sort.param if sort != Sort() else "", "size": size}
    sort_links = {}
    for field in SORT_FIELDS:
        aria = mark = ""
        if sort.field == field:
            aria = "descending" if sort.descending else "ascending"
            mark = " ▼" if sort.descending else " ▲"
        sort_links[field] = SortLink(
            url=url_with(url_name, {**params, "sort": sort.toggled(field).param, "size": size}),
            aria_sort=aria,
            mark=mark,
        )
    return Listing(
        sort=sort,
        size=size,
        page=page,
        page_number=number,
        sort_links=sort_links,
        this_url=url_with(
            url_name,
            {
                **with_size,
                "after": request.GET.get("after") if after else "",
                "before": request.GET.get("before") if before else "",
                "page": number if number > 1 else "",
            },
        ),
        first_url=url_with(url_name, with_size) if (after or before) else "",
        next_url=url_with(
            url_name, {**with_size, "after": page.next_cursor.encode(), "page": number + 1}
        )
        if page.next_cursor
        else "",
        size_url=reverse_plain(url_name),
        prev_url=url_with(
            url_name,
            {
                **with_size,
                "before": page.prev_cursor.encode(),
                "page": number - 1 if number > 2 else "",
            },
        )
        if page.prev_cursor
        else "",
    )
