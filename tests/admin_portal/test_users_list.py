"""The users tab: View / status / search filters, sorting, keyset paging, sticky page size."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_script_prefix, reverse, set_script_prefix
from django.utils import timezone

from mfaportal.admin_portal.models import BulkJob
from mfaportal.core import roles
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from mfaportal.mfa.selectors.users import (
    ROLE_VIEW_PREFIX,
    Cursor,
    Sort,
    UserFilter,
    users_page,
)
from tests.admin_portal.conftest import (
    assert_no_count_of_the_whole_table,
    bulk_users,
    sqlite_steps,
)
from tests.factories import make_user
from tests.factories import role as factory_role

pytestmark = pytest.mark.django_db
USERS = reverse("admin_portal:users")
# The users page with 40 users ticked (the pane drawn with it), for any admin role.
PANE_PAGE_QUERIES = 7


def names(response) -> list[str]:
    """The display names listed, in order (from the rows' detail links)."""
    html = response.content.decode()
    return re.findall(r'<td><a href="/admin/users/[0-9a-f-]+/">(.*?)</a></td>', html)


def upns(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r"</a></td>\s*<td>(.*?)</td>", html)


def link(response, rel: str) -> str:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}"', response.content.decode())
    assert match, f"no {rel} link"
    return match.group(1).replace("&amp;", "&")


@pytest.fixture
def tenant(admin: DirectoryUser) -> None:
    make_user("adele@contoso.test", display_name="Adele Vance", state=MfaState.ENABLED)
    make_user("alex@contoso.test", display_name="Alex Wilber", state=MfaState.ENFORCED)
    make_user("blocked@contoso.test", display_name="Blocked Bob", account_enabled=False)
    make_user(
        "megan@contoso.test",
        display_name="Megan Bowen",
        mail="adm.megan@mail.contoso.test",
        admin_role=roles.ROLES_BY_TEMPLATE_ID["29232cdf-9323-42fd-ade2-1d097af3e4de"],
    )


def test_default_view_lists_sign_in_allowed_users_by_display_name(
    admin_client: Client, tenant: None
) -> None:
    response = admin_client.get(USERS)
    assert response.status_code == 200
    assert names(response) == [
        "Adele Vance",
        "Alex Wilber",
        "Megan Bowen",
        "MOD Administrator",
    ]
    assert "Blocked Bob" not in response.content.decode()


def test_page_carries_microsofts_title_tabs_columns_and_guide_line(
    admin_client: Client, tenant: None
) -> None:
    html = admin_client.get(USERS).content.decode()
    for text in (
        "multi-factor authentication",
        ">users<",
        ">service settings<",
        "Before you begin, take a look at the",
        "multi-factor auth deployment guide",
        "DISPLAY NAME",
        "USER NAME",
        "MULTI-FACTOR AUTH STATUS",
        "View:",
        "Multi-Factor Auth status:",
        "bulk update",
    ):
        assert text in html


def test_the_plain_page_lists_the_admins_own_background_updates_of_the_last_day(
    admin_client: Client, admin: DirectoryUser
) -> None:
    other = make_user("other@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    day_old = timezone.now() - timedelta(days=1, minutes=1)
    others = BulkJob.objects.create(
        kind=BulkJob.Kind.STATE, created_by=other, params={"state": 1}, total=7, background=True
    )
    old = BulkJob.objects.create(
        kind=BulkJob.Kind.STATE,
        created_by=admin,
        params={"state": 1},
        total=8,
        background=True,
        created_at=day_old,
    )
    assert "background updates" not in admin_client.get(USERS).content.decode()
    mine = BulkJob.objects.create(
        kind=BulkJob.Kind.STATE, created_by=admin, params={"state": 2}, total=9, background=True
    )
    html = admin_client.get(USERS).content.decode()
    assert "background updates" in html
    assert reverse("admin_portal:job", args=[mine.pk]) in html
    assert reverse("admin_portal:job", args=[others.pk]) not in html
    assert reverse("admin_portal:job", args=[old.pk]) not in html


def test_view_filter_offers_a_role_the_portal_does_not_know_by_its_directory_name(
    admin_client: Client, admin: DirectoryUser
) -> None:
    custom = DirectoryRole.objects.create(
        template_id="11111111-2222-3333-4444-555555555555", display_name="Contoso Auditors"
    )
    make_user("auditor@contoso.test").roles.add(custom)
    html = admin_client.get(USERS).content.decode()
    assert ">Contoso Auditors<" in html
    assert ">Global administrators<" in html


def test_view_filter_offers_blocked_users_global_admins_and_other_roles_present(
    admin_client: Client, tenant: None
) -> None:
    html = admin_client.get(USERS).content.decode()
    assert ">Sign-in allowed users<" in html
    assert ">Sign-in blocked users<" in html
    assert ">Global administrators<" in html
    assert ">Exchange administrators<" in html
    # Roles nobody holds are not offered.
    assert "SharePoint administrators" not in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"view": "blocked"}, ["Blocked Bob"]),
        ({"view": f"role:{roles.GLOBAL_ADMINISTRATOR.template_id}"}, ["MOD Administrator"]),
        ({"status": "enabled"}, ["Adele Vance"]),
        ({"status": "Enforced"}, ["Alex Wilber"]),
        ({"status": "disabled"}, ["Megan Bowen", "MOD Administrator"]),
        ({"status": "any"}, ["Adele Vance", "Alex Wilber", "Megan Bowen", "MOD Administrator"]),
        (
            {"status": "nonsense"},
            ["Adele Vance", "Alex Wilber", "Megan Bowen", "MOD Administrator"],
        ),
        ({"view": "role:no-such-role"}, []),
    ],
)
def test_view_and_status_filters(
    admin_client: Client, tenant: None, params: dict[str, str], expected: list[str]
) -> None:
    assert names(admin_client.get(USERS, params)) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        # Prefix of display name, user name or mail, any case.
        ("al", ["Alex Wilber"]),
        ("ADELE", ["Adele Vance"]),
        ("adm", ["Megan Bowen", "MOD Administrator"]),
        ("mod admin", ["MOD Administrator"]),
        ("  mod   admin  ", ["MOD Administrator"]),
        # Not a substring search: "wilber" is inside the name, not at its start.
        ("wilber", []),
    ],
)
def test_search_matches_prefixes_case_insensitively(
    admin_client: Client, tenant: None, term: str, expected: list[str]
) -> None:
    assert names(admin_client.get(USERS, {"q": term})) == expected


@pytest.mark.parametrize(
    "term",
    ["%", "_", "a%", "a_", "'", '"', "' OR 1=1 --", "<script>", "\\", "\x00ad", "a" * 5000],
)
def test_odd_search_input_is_taken_literally_and_never_fails(
    admin_client: Client, tenant: None, term: str
) -> None:
    response = admin_client.get(USERS, {"q": term})
    assert response.status_code == 200
    # A NUL is dropped (PostgreSQL would refuse it); "ad" is then an ordinary prefix.
    expected = ["Adele Vance", "Megan Bowen", "MOD Administrator"] if term == "\x00ad" else []
    assert names(response) == expected
    assert "<script>" not in response.content.decode().split("<main", 1)[1]


def test_wildcards_in_names_match_only_themselves(
    admin_client: Client, admin: DirectoryUser
) -> None:
    make_user("pct@contoso.test", display_name="100% Sales")
    make_user("pcx@contoso.test", display_name="100X Sales")
    make_user("und@contoso.test", display_name="a_b team")
    make_user("unx@contoso.test", display_name="axb team")
    assert names(admin_client.get(USERS, {"q": "100%"})) == ["100% Sales"]
    assert names(admin_client.get(USERS, {"q": "a_"})) == ["a_b team"]


def test_each_search_role_and_page_lists_its_own_users_when_asked_one_after_another(
    admin_client: Client, tenant: None
) -> None:
    """The page's statements are compiled once per shape and bound to each request's values:
    a search, a role or a cursor asked after another of the same shape gets its own rows."""
    assert names(admin_client.get(USERS, {"q": "ade"})) == ["Adele Vance"]
    assert names(admin_client.get(USERS, {"q": "ale"})) == ["Alex Wilber"]
    assert names(admin_client.get(USERS, {"q": "meg"})) == ["Megan Bowen"]
    exchange = roles.ROLES_BY_TEMPLATE_ID["29232cdf-9323-42fd-ade2-1d097af3e4de"]
    for role, expected in [
        (roles.GLOBAL_ADMINISTRATOR, ["MOD Administrator"]),
        (exchange, ["Megan Bowen"]),
        (roles.GLOBAL_ADMINISTRATOR, ["MOD Administrator"]),
    ]:
        assert names(admin_client.get(USERS, {"view": f"role:{role.template_id}"})) == expected
    first = admin_client.get(USERS, {"size": 25})
    assert names(first)[0] == "Adele Vance"
    after = Cursor("ALEX WILBER", DirectoryUser.objects.by_upn("alex@contoso.test").get().id)
    assert names(admin_client.get(USERS, {"after": after.encode()})) == [
        "Megan Bowen",
        "MOD Administrator",
    ]
    after = Cursor("ADELE VANCE", DirectoryUser.objects.by_upn("adele@contoso.test").get().id)
    assert names(admin_client.get(USERS, {"after": after.encode()}))[0] == "Alex Wilber"


def test_non_ascii_and_html_special_names_are_found_and_escaped(
    admin_client: Client, admin: DirectoryUser
) -> None:
    make_user("zoe@contoso.test", display_name="Zoë Ångström")
    make_user("lilei@contoso.test", display_name="李 雷 (Li Lei)")
    make_user("script@contoso.test", display_name="<script>alert('x')</script> & \"Co\"")
    response = admin_client.get(USERS, {"q": "zoë"})
    assert names(response) == ["Zoë Ångström"]
    assert names(admin_client.get(USERS, {"q": "李"})) == ["李 雷 (Li Lei)"]
    html = admin_client.get(USERS, {"q": "<scr"}).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;Co&quot;" in html
    assert "<script>alert" not in html
    # The search box shows what was typed, escaped.
    assert 'value="&lt;scr"' in html


def test_columns_sort_by_display_name_or_user_name_both_ways(
    admin_client: Client, tenant: None
) -> None:
    by_name_desc = admin_client.get(USERS, {"sort": "-display_name"})
    assert names(by_name_desc) == ["MOD Administrator", "Megan Bowen", "Alex Wilber", "Adele Vance"]
    assert 'aria-sort="descending"' in by_name_desc.content.decode()
    by_upn = admin_client.get(USERS, {"sort": "user_principal_name"})
    assert upns(by_upn) == [
        "adele@contoso.test",
        "admin@contoso.test",
        "alex@contoso.test",
        "megan@contoso.test",
    ]
    # An unknown sort falls back to the default, never an error.
    assert admin_client.get(USERS, {"sort": "password"}).status_code == 200


def test_paging_walks_every_user_once_forwards_and_back(
    admin_client: Client, admin: DirectoryUser
) -> None:
    bulk_users(60, prefix="pager")
    expected = sorted(
        DirectoryUser.objects.filter(account_enabled=True).values_list("display_name", "id")
    )
    seen: list[str] = []
    response = admin_client.get(USERS, {"size": 25})
    pages = [response]
    seen += names(response)
    while 'rel="next"' in response.content.decode():
        response = admin_client.get(link(response, "next"))
        pages.append(response)
        seen += names(response)
    assert seen == [name for name, _id in expected]
    assert len(pages) == 3
    assert "Page 3" in pages[-1].content.decode()
    # And back from the last page to the first, page by page.
    back: list[list[str]] = []
    response = pages[-1]
    while 'rel="prev"' in response.content.decode():
        response = admin_client.get(link(response, "prev"))
        back.append(names(response))
    assert back == [names(pages[1]), names(pages[0])]


def test_paging_by_user_name_descending_with_ties_in_display_name(
    admin: DirectoryUser,
) -> None:
    for number in range(7):
        make_user(f"same{number}@contoso.test", display_name="Same Name")
    sort = Sort("display_name", descending=True)
    collected = []
    page = users_page(UserFilter(), sort=sort, size=3)
    collected += [row.id for row in page.rows]
    while page.next_cursor:
        page = users_page(UserFilter(), sort=sort, size=3, after=page.next_cursor)
        collected += [row.id for row in page.rows]
    expected = list(
        DirectoryUser.objects.filter(account_enabled=True)
        .order_by("-display_name", "-id")
        .values_list("id", flat=True)
    )
    assert collected == expected


def test_a_tampered_cursor_shows_the_first_page(admin_client: Client, tenant: None) -> None:
    for token in ["not-base64!", "W10", "WyJhIiwgIngiXQ", "x" * 3000]:
        response = admin_client.get(USERS, {"after": token})
        assert response.status_code == 200
        assert names(response)[0] == "Adele Vance"
    assert Cursor.decode(Cursor("Zoë", 7).encode()) == Cursor("Zoë", 7)


def test_page_size_sticks_for_the_session(admin_client: Client, admin: DirectoryUser) -> None:
    bulk_users(30, prefix="size")
    assert len(names(admin_client.get(USERS))) == 31  # default page size is 50
    assert len(names(admin_client.get(USERS, {"size": 25}))) == 25
    assert len(names(admin_client.get(USERS))) == 25
    assert len(names(admin_client.get(USERS, {"size": 7}))) == 25  # not a choice: ignored


def test_links_keep_the_filter_so_urls_are_bookmarkable(
    admin_client: Client, admin: DirectoryUser
) -> None:
    bulk_users(30, prefix="mark", state=MfaState.ENABLED)
    response = admin_client.get(USERS, {"status": "enabled", "q": "mark", "size": "25"})
    next_url = link(response, "next")
    query = parse_qs(urlparse(next_url).query)
    assert query["status"] == ["enabled"]
    assert query["q"] == ["mark"]
    # The bookmarked next page, opened cold in another session, shows the same rows.
    other = Client()
    other.force_login(admin)
    assert names(other.get(next_url)) == names(admin_client.get(next_url))
    assert len(names(other.get(next_url))) == 5


def test_htmx_request_gets_only_the_results_fragment(admin_client: Client, tenant: None) -> None:
    response = admin_client.get(
        USERS, {"q": "ad"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html
    assert names(response) == ["Adele Vance", "Megan Bowen", "MOD Administrator"]
    assert response["Vary"].count("HX-Request")


def test_back_button_history_restore_gets_the_whole_page(
    admin_client: Client, tenant: None
) -> None:
    response = admin_client.get(
        USERS,
        {"q": "ad"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="results",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in response.content.decode()


def test_without_javascript_the_filters_are_a_plain_get_form(
    admin_client: Client, tenant: None
) -> None:
    html = admin_client.get(USERS).content.decode()
    assert re.search(
        r'<form class="filters" id="filters" method="get" action="/admin/users/"', html
    )
    assert '<button type="submit">search</button>' in html


def test_unlicensed_users_are_listed_and_marked(admin_client: Client, admin: DirectoryUser) -> None:
    make_user("nolicence@contoso.test", display_name="No Licence", is_licensed=False)
    html = admin_client.get(USERS, {"q": "no"}).content.decode()
    assert "No Licence" in html
    assert "no licence" in html


def test_the_list_never_counts_the_whole_table(admin_client: Client, tenant: None) -> None:
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(USERS, {"q": "a", "status": "any"})
    assert_no_count_of_the_whole_table(queries.captured_queries)


@pytest.mark.parametrize(
    ("params", "page_queries"),
    [
        # The session, the signed-in user with their roles (and what the View dropdown and
        # the background updates need), the page.
        ({}, 3),
        ({"status": "enforced"}, 3),
        ({"sort": "-user_principal_name"}, 3),
        ({"view": "blocked"}, 3),
        # A search is the page's one query when a page of matches lies among the next 1,000
        # users; otherwise one more gathers every match (a MATERIALIZED CTE); never a count.
        ({"q": "ad"}, 3),
        ({"view": f"role:{roles.GLOBAL_ADMINISTRATOR.template_id}", "q": "mod"}, 4),
    ],
)
def test_query_count_of_the_list_is_pinned_and_does_not_grow_with_rows(
    admin_client: Client,
    admin: DirectoryUser,
    django_assert_max_num_queries,
    params,
    page_queries: int,
) -> None:
    bulk_users(120, prefix="adq", state=MfaState.ENFORCED)
    admin_client.get(USERS)  # the session is written once, on the first visit
    with django_assert_max_num_queries(page_queries):
        response = admin_client.get(USERS, params)
    assert response.status_code == 200
    # The htmx fragment draws neither the View dropdown nor the background updates.
    with django_assert_max_num_queries(page_queries):
        admin_client.get(USERS, params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")


def test_a_deep_page_costs_the_same_queries_as_the_first(
    admin_client: Client, admin: DirectoryUser, django_assert_max_num_queries
) -> None:
    bulk_users(400, prefix="deep")
    response = admin_client.get(USERS, {"size": 50})
    for _ in range(6):
        response = admin_client.get(link(response, "next"))
    with django_assert_max_num_queries(3):
        deep = admin_client.get(link(response, "next"))
    assert "Page 8" in deep.content.decode()


@pytest.mark.parametrize("window", [1, 3, 7, 1000])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("term", ["ma", "bob 1"])
@pytest.mark.parametrize("compiled_once", [False, True])
def test_search_pages_are_exact_whether_matches_are_near_or_far(
    admin: DirectoryUser,
    monkeypatch,
    window: int,
    descending: bool,
    term: str,
    compiled_once: bool,
) -> None:
    """ "ma" has more matches than a page, near and far; "bob 1" fewer than a page, which
    the first statement answers with every match. Pages of 5, built each time or compiled
    once per shape as the list's own sizes are."""
    from mfaportal.mfa.selectors import users as selectors

    monkeypatch.setattr(selectors, "SEARCH_WINDOW", window)
    monkeypatch.setattr(selectors, "_STATEMENTS", {})  # the window's size is compiled in
    if compiled_once:
        monkeypatch.setattr(selectors, "PAGE_SIZES", (5, *selectors.PAGE_SIZES))
    for number in range(12):
        make_user(
            f"m{number:02d}@contoso.test",
            display_name=f"Zed {number:02d}",
            mail=f"ma{number}@x.test",
        )
        make_user(f"o{number:02d}@contoso.test", display_name=f"Ma Other {number:02d}")
        make_user(f"n{number:02d}@contoso.test", display_name=f"Bob {number:02d}")
    expected = list(
        selectors.users_matching(UserFilter(search=term))
        .order_by(*(["-display_name", "-id"] if descending else ["display_name", "id"]))
        .values_list("id", flat=True)
    )
    sort = Sort("display_name", descending)
    pages = [users_page(UserFilter(search=term), sort=sort, size=5)]
    while pages[-1].next_cursor:
        pages.append(
            users_page(UserFilter(search=term), sort=sort, size=5, after=pages[-1].next_cursor)
        )
    assert [row.id for page in pages for row in page.rows] == expected
    if len(pages) > 1:
        back = users_page(UserFilter(search=term), sort=sort, size=5, before=pages[-1].prev_cursor)
        assert [row.id for row in back.rows] == [row.id for row in pages[-2].rows]
    else:
        assert len(expected) == 2


def _window_statement_work(term: str) -> tuple[int, str]:
    """Run the users page's search for ``term`` and measure how much work its window
    statement did: on SQLite the virtual machine steps it took, on PostgreSQL its plan with
    the rows each node read (EXPLAIN ANALYZE of the same statement and values)."""
    captured: list[tuple[str, Any]] = []

    def capture(execute, sql, params, many, context):
        if "MAX(w.sort_key)" in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        users_page(UserFilter(search=term), sort=Sort("display_name", False), size=50)
    assert len(captured) == 1, "one window statement"
    sql, params = captured[0]
    if connection.vendor == "sqlite":
        return sqlite_steps(sql, params, every=10), ""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
        return 0, "\n".join(row[0] for row in cursor.fetchall())


def _window_and_every_match(plan: str) -> tuple[str, str]:
    """A PostgreSQL search plan's two parts: the window (its CTE) and the rest."""
    window, rest = plan.split("CTE w\n", 1)[1].split("\n  ->  Append", 1)
    return window, rest


def test_a_search_few_users_match_does_not_walk_the_list_before_gathering_them() -> None:
    """A term that a page's worth of users or fewer match cannot fill a page from the list's
    first thousand users: the window statement reads none of them and the matches are
    gathered at once (the search "yz" on a tenant of 100,000 users, issue 15)."""
    bulk_users(600, prefix="walk")
    for number in range(60):
        make_user(f"many{number:02d}@contoso.test", display_name=f"Many {number:02d}")
    make_user("yz@contoso.test", display_name="Yzma Rare")
    rare_work, rare_plan = _window_statement_work("yz")
    common_work, common_plan = _window_statement_work("many")
    if connection.vendor == "sqlite":
        # The common term walks the list (thousands of steps); the rare one reads no row.
        assert common_work > 5_000
        assert rare_work < common_work / 20
    else:
        # The condition is tested once, before the list is read: not at all for the rare
        # term, every row needed for the common one. The window is the statement's CTE;
        # every match is gathered, in the same statement, only when the window is short.
        rare_window, rare_every = _window_and_every_match(rare_plan)
        common_window, common_every = _window_and_every_match(common_plan)
        rare_list = rare_window.split("One-Time Filter: ", 1)[1]
        common_list = common_window.split("One-Time Filter: ", 1)[1]
        scans = [line for line in rare_list.splitlines() if "Scan" in line]
        assert scans and all("never executed" in line for line in scans)
        assert "never executed" not in common_list
        assert "Limit (never executed)" not in rare_every
        assert "Limit (never executed)" in common_every
    page = users_page(UserFilter(search="yz"), sort=Sort("display_name", False), size=50)
    assert [row.display_name for row in page.rows] == ["Yzma Rare"]


def _zeds_past_the_window() -> None:
    """Sixty-odd users "ze" matches, none among the list's first thousand, so that a search
    for it gathers every match: half match by name and user name only, one has no MFA row
    at all, one is blocked from signing in, two hold a role."""
    bulk_users(1_000, prefix="aaa")
    zeds = bulk_users(60, prefix="zed", state=MfaState.ENFORCED)
    for zed in zeds[::2]:
        zed.mail = f"mail-{zed.pk}@contoso.test"
        zed.save(update_fields=["mail"])
    bare = make_user("zed-bare@contoso.test", display_name="Zed Bare")
    UserMfa.objects.filter(user=bare).delete()
    make_user(
        "zed-blocked@contoso.test",
        display_name="Zed Blocked",
        state=MfaState.ENABLED,
        account_enabled=False,
    )
    for holder in (bare, zeds[1]):
        holder.roles.add(factory_role(roles.REPORTS_READER))


ROLE_VIEW = f"{ROLE_VIEW_PREFIX}{roles.REPORTS_READER.template_id}"


@pytest.mark.parametrize(
    ("view", "status", "expected"),
    [
        ("allowed", "any", ["Zed Bare", *[f"Zed User {n:05d}" for n in range(49)]]),
        ("allowed", "enforced", [f"Zed User {n:05d}" for n in range(50)]),
        ("allowed", "disabled", ["Zed Bare"]),  # no MFA row at all is Disabled
        ("blocked", "any", ["Zed Blocked"]),
        (ROLE_VIEW, "any", ["Zed Bare", "Zed User 00001"]),
    ],
    ids=["allowed", "enforced", "disabled", "blocked", "role"],
)
def test_a_search_past_the_lists_first_thousand_shows_each_matching_users_state_in_every_view(
    view: str, status: str, expected: list[str]
) -> None:
    _zeds_past_the_window()
    page = users_page(
        UserFilter(view=view, status=status, search="ze"),
        sort=Sort("display_name", False),
        size=50,
    )
    assert [row.display_name for row in page.rows] == expected
    states = {row.display_name: row.state for row in page.rows}
    assert states.pop("Zed Bare", MfaState.DISABLED) == MfaState.DISABLED
    assert states.pop("Zed Blocked", MfaState.ENABLED) == MfaState.ENABLED
    assert set(states.values()) <= {MfaState.ENFORCED}


def test_a_common_search_reads_each_match_once_and_the_state_of_the_rows_shown_only() -> None:
    """Gathering every match, the three prefix indexes serve one condition, each row read
    once; on PostgreSQL the MFA state is read for the page's rows only. Before, each match
    was read three times, then again by its id with its state (issue 15, tenth round)."""
    _zeds_past_the_window()
    captured: list[tuple[str, Any]] = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        page = users_page(UserFilter(search="ze"), sort=Sort("display_name", False), size=50)
    assert len(page.rows) == 50
    (sql, params) = captured[-1]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        assert "MULTI-INDEX OR" in plan and "UNION" not in plan, plan
        return
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    _window, every = _window_and_every_match(plan)
    assert "BitmapOr" in every and every.count("Bitmap Heap Scan on directory_directoryuser") == 1
    matches, state_reads = every.split("SubPlan", 1)
    assert "mfa_usermfa" not in matches and "rows=1 loops=51" in state_reads


def test_a_search_costs_postgresql_one_round_trip_whether_few_or_many_users_match() -> None:
    """On PostgreSQL the window and, when it is short, every match come back from one
    statement; on SQLite, in-process, a term few users match takes two (issue 15)."""
    bulk_users(600, prefix="walk")
    for number in range(60):
        make_user(f"many{number:02d}@contoso.test", display_name=f"Many {number:02d}")
    make_user("yz@contoso.test", display_name="Yzma Rare")
    statements = {"many": 1, "yz": 1} if connection.vendor == "postgresql" else {"many": 1, "yz": 2}
    for term, expected in statements.items():
        with CaptureQueriesContext(connection) as queries:
            page = users_page(UserFilter(search=term), sort=Sort("display_name", False), size=50)
        assert len(queries.captured_queries) == expected, term
        assert len(page.rows) == (50 if term == "many" else 1)


def pane_of(response) -> str:
    return response.content.decode().split('<aside id="pane"', 1)[1].split("</aside>", 1)[0]


def test_a_link_naming_a_user_opens_the_list_with_that_user_ticked_and_in_the_pane(
    admin_client: Client, tenant: None
) -> None:
    """Where Active users' *Manage multi-factor authentication* leads: the user is selected
    as if the admin had ticked them, and the quick steps are ready."""
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    response = admin_client.get(USERS, {"q": "adele@contoso.test", "u": str(adele.pk)})
    html = response.content.decode()
    assert names(response) == ["Adele Vance"]
    assert f'value="{adele.pk}" id="u-{adele.pk}" checked' in html
    pane = pane_of(response)
    assert '<h2 class="pane-name">Adele Vance</h2>' in pane
    assert "adele@contoso.test" in pane
    assert ">Enforce<" in pane  # Adele is Enabled: Enforce and Disable are offered
    assert ">Disable<" in pane


def test_a_selected_user_not_on_the_page_is_not_shown_in_the_pane(
    admin_client: Client, tenant: None
) -> None:
    alex = DirectoryUser.objects.get(user_principal_name="alex@contoso.test")
    for params in ({"q": "adele", "u": str(alex.pk)}, {"u": "999999"}, {"u": "nonsense"}):
        response = admin_client.get(USERS, params)
        assert response.status_code == 200
        assert "pane-name" not in pane_of(response)
        assert "Select one or more users to see the quick steps." in pane_of(response)


def test_a_selection_in_the_address_costs_one_query_more_whatever_its_size(
    admin_client: Client, admin: DirectoryUser, django_assert_max_num_queries
) -> None:
    users = bulk_users(120, prefix="sel", state=MfaState.ENABLED)
    admin_client.get(USERS, {"size": 200})  # the page size is written to the session once
    ticked = [str(user.pk) for user in users[:40]]
    with django_assert_max_num_queries(4):
        response = admin_client.get(USERS, {"size": "200", "u": ticked})
    assert "40 users selected" in pane_of(response)


@pytest.mark.parametrize(
    "role",
    [
        roles.GLOBAL_ADMINISTRATOR,
        roles.AUTHENTICATION_POLICY_ADMINISTRATOR,
        roles.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        roles.AUTHENTICATION_ADMINISTRATOR,
        roles.GLOBAL_READER,
    ],
    ids=lambda role: role.display_name,
)
def test_every_role_pays_the_same_pinned_queries_for_the_page_and_its_pane(
    client: Client, django_assert_max_num_queries, role: roles.BuiltInRole
) -> None:
    """What the actor may do is read once per request, and whom the pane may not change is
    one EXISTS in the selection's query: no query per row or per ticked user."""
    client.force_login(make_user("actor@contoso.test", admin_role=role))
    users = bulk_users(40, prefix="adq", state=MfaState.ENFORCED)
    for index, user in enumerate(users[:10]):
        held = roles.GLOBAL_ADMINISTRATOR if index % 2 else roles.REPORTS_READER
        user.roles.add(factory_role(held))
    client.get(USERS)  # the session is written once, on the first visit
    for count in (2, 40):
        with django_assert_max_num_queries(PANE_PAGE_QUERIES):
            ticked: dict[str, list[int] | int] = {
                "u": [user.pk for user in users[:count]],
                "size": 50,
            }
            response = client.get(USERS, ticked)
        assert response.status_code == 200


@pytest.mark.parametrize("term", ["yz", "many"])
def test_a_search_never_waits_for_parallel_workers_on_postgresql(term: str) -> None:
    """Starting parallel workers costs several ms on a busy two-core machine: the bound that
    decides whether the list holds a page of matches was planned as a Gather under its LIMIT
    for "zo" on a tenant of 100,000 users (7.7 ms to read three rows, issue 15). Here
    parallel plans are made free, so the planner picks one wherever a statement allows it."""
    bulk_users(600, prefix="walk")
    for number in range(60):
        make_user(f"many{number:02d}@contoso.test", display_name=f"Many {number:02d}")
    make_user("yz@contoso.test", display_name="Yzma Rare")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    with CaptureQueriesContext(connection) as captured:
        page = users_page(UserFilter(search=term), sort=Sort("display_name", False), size=50)
    assert len(page.rows) == (1 if term == "yz" else 50)
    if connection.vendor != "postgresql":
        return  # SQLite plans no parallel workers
    with connection.cursor() as cursor:
        for setting in (
            "parallel_setup_cost",
            "parallel_tuple_cost",
            "min_parallel_table_scan_size",
            "min_parallel_index_scan_size",
        ):
            cursor.execute(f"SET LOCAL {setting} = 0")
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Gather" not in plan, plan


def test_the_users_page_status_dropdown_is_worded_in_each_readers_language(
    admin_client: Client,
) -> None:
    for language, any_label in (("en", "Any"), ("es", "Cualquiera"), ("en", "Any")):
        admin_client.cookies["django_language"] = language
        html = admin_client.get("/admin/users/").content.decode()
        assert f'<option value="any" selected>{any_label}</option>' in html


def test_the_users_rows_are_worded_in_each_readers_language(admin_client: Client) -> None:
    make_user("megan@contoso.test", display_name="Megan Bowen", state=MfaState.ENFORCED)
    for language, state, select in (
        ("en", "Enforced", "Select Megan Bowen"),
        ("es", "Aplicado", "Seleccionar a Megan Bowen"),
        ("en", "Enforced", "Select Megan Bowen"),
    ):
        admin_client.cookies["django_language"] = language
        html = admin_client.get("/admin/users/?q=megan").content.decode()
        assert f'<span class="state state-enforced">{state}</span>' in html
        assert f'aria-label="{select}"' in html


def test_a_users_row_links_to_the_user_under_the_prefix_the_portal_is_served_at(
    admin_client: Client,
) -> None:
    megan = make_user("megan@contoso.test", display_name="Megan Bowen")
    before = get_script_prefix()
    try:
        for prefix in ("/mfa", "", "/mfa"):
            # As a server under SCRIPT_NAME sets it (Django's test client doesn't).
            set_script_prefix(prefix + "/")
            html = admin_client.get("/admin/users/?q=megan").content.decode()
            assert f'<a href="{prefix}/admin/users/{megan.object_id}/">Megan Bowen</a>' in html
    finally:
        set_script_prefix(before)
