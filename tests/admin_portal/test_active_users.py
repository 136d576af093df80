"""Active users (DESIGN §4.0, seed 000): Users → Active users → click the user → *Manage
multi-factor authentication* under *More settings* → the MFA page with that user selected."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from tests.admin_portal.conftest import assert_no_count_of_the_whole_table, bulk_users
from tests.factories import make_user

pytestmark = pytest.mark.django_db
ACTIVE = reverse("admin_portal:active_users")
USERS = reverse("admin_portal:users")


def names(response) -> list[str]:
    """The display names listed, in order (from the rows' links that open the pane)."""
    return re.findall(r"<a [^>]*data-pane-link[^>]*>(.*?)</a>", response.content.decode())


def pane(response) -> str:
    html = response.content.decode()
    if '<aside id="user-pane"' in html:
        html = html.split('<aside id="user-pane"', 1)[1].split("</aside>", 1)[0]
    return html


def link(html: str, rel: str) -> str:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}"', html)
    assert match, f"no {rel} link"
    return match.group(1).replace("&amp;", "&")


def pane_link(response, text: str) -> str:
    match = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(text)}</a>', pane(response))
    assert match, f"no {text!r} in the pane"
    return match.group(1).replace("&amp;", "&")


def user_link(response, name: str) -> str:
    match = re.search(
        rf'<a href="([^"]+)"[^>]*data-pane-link[^>]*>{re.escape(name)}</a>',
        response.content.decode(),
    )
    assert match, f"no row for {name}"
    return match.group(1).replace("&amp;", "&")


@pytest.fixture
def tenant(admin: DirectoryUser) -> None:
    make_user("adele@contoso.test", display_name="Adele Vance")
    make_user("alex@contoso.test", display_name="Alex Wilber", state=MfaState.ENABLED)
    make_user("blocked@contoso.test", display_name="Blocked Bob", account_enabled=False)
    make_user("nestor@contoso.test", display_name="Nestor Wilke", is_licensed=False)
    make_user("zoe@contoso.test", display_name='Zoë <Ops> & "Sec"', mail="ops@mail.test")


def test_active_users_lists_everyone_with_user_name_and_licence(
    admin_client: Client, tenant: None
) -> None:
    response = admin_client.get(ACTIVE)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 class="page-title">Active users</h1>' in html
    # Sign-in blocked users are active users too, and say so.
    assert names(response) == [
        "Adele Vance",
        "Alex Wilber",
        "Blocked Bob",
        "MOD Administrator",
        "Nestor Wilke",
        "Zoë &lt;Ops&gt; &amp; &quot;Sec&quot;",
    ]
    assert "Sign-in blocked" in html
    for column in ("DISPLAY NAME", "USER NAME", "LICENCES"):
        assert column in html
    assert "<td>nestor@contoso.test</td><td>Unlicensed</td>" in html
    assert "<td>adele@contoso.test</td><td>Licensed</td>" in html


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("al", ["Alex Wilber"]),
        ("BLOCKED", ["Blocked Bob"]),  # by user name, any case
        ("ops@", ["Zoë &lt;Ops&gt; &amp; &quot;Sec&quot;"]),  # by mail
        ("zoë", ["Zoë &lt;Ops&gt; &amp; &quot;Sec&quot;"]),
        ("wilber", []),  # a prefix search, as on the users tab
        ("%", []),
    ],
)
def test_active_users_search_finds_a_prefix_of_name_user_name_or_mail(
    admin_client: Client, tenant: None, term: str, expected: list[str]
) -> None:
    response = admin_client.get(ACTIVE, {"q": term})
    assert names(response) == expected
    if not expected:
        assert "There are no users to display." in response.content.decode()


def test_clicking_a_user_opens_their_pane_with_manage_multi_factor_authentication(
    admin_client: Client, tenant: None
) -> None:
    """Without JavaScript the user's name is a link to the same list with their pane open."""
    first = admin_client.get(ACTIVE)
    assert "Select a user to see their details." in pane(first)
    opened = admin_client.get(user_link(first, "Adele Vance"))
    assert opened.status_code == 200
    assert names(opened) == names(first)
    pane_html = pane(opened)
    assert '<h2 class="pane-name" id="user-pane-name" tabindex="-1">Adele Vance</h2>' in pane_html
    assert "adele@contoso.test" in pane_html
    more = pane_html.index("More settings")
    assert pane_html.index(">Manage multi-factor authentication<") > more
    assert 'aria-current="true"' in opened.content.decode()


def test_manage_multi_factor_authentication_opens_the_mfa_page_with_the_user_selected(
    admin_client: Client, tenant: None
) -> None:
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    opened = admin_client.get(user_link(admin_client.get(ACTIVE), "Adele Vance"))
    target = pane_link(opened, "Manage multi-factor authentication")
    assert urlsplit(target).path == USERS
    assert parse_qs(urlsplit(target).query) == {
        "q": [adele.user_principal_name],
        "u": [str(adele.pk)],
    }
    mfa_page = admin_client.get(target).content.decode()
    assert f'value="{adele.pk}" id="u-{adele.pk}" checked' in mfa_page
    mfa_pane = mfa_page.split('<aside id="pane"', 1)[1]
    assert '<h2 class="pane-name">Adele Vance</h2>' in mfa_pane
    assert ">Enable<" in mfa_pane


def test_a_blocked_users_link_opens_the_blocked_view_where_they_are_listed(
    admin_client: Client, tenant: None
) -> None:
    bob = DirectoryUser.objects.get(user_principal_name="blocked@contoso.test")
    opened = admin_client.get(ACTIVE, {"user": str(bob.object_id)})
    target = pane_link(opened, "Manage multi-factor authentication")
    assert parse_qs(urlsplit(target).query)["view"] == ["blocked"]
    assert f'value="{bob.pk}" id="u-{bob.pk}" checked' in admin_client.get(target).content.decode()


def test_the_pane_also_links_the_users_details(admin_client: Client, tenant: None) -> None:
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    opened = admin_client.get(ACTIVE, {"user": str(adele.object_id)})
    assert pane_link(opened, "Details, methods and history") == reverse(
        "admin_portal:user_detail", args=[adele.object_id]
    )


@pytest.mark.parametrize("value", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", ""])
def test_an_unknown_user_in_the_address_opens_no_pane(
    admin_client: Client, tenant: None, value: str
) -> None:
    response = admin_client.get(ACTIVE, {"user": value})
    assert response.status_code == 200
    assert "Select a user to see their details." in pane(response)


def test_with_htmx_a_click_swaps_in_only_the_pane(admin_client: Client, tenant: None) -> None:
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    response = admin_client.get(
        ACTIVE,
        {"user": str(adele.object_id)},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="user-pane",
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "data-pane-link" not in html  # no rows: only the pane
    assert "Manage multi-factor authentication" in html
    assert response["Vary"].count("HX-Request")


def test_with_htmx_a_search_swaps_in_only_the_list(admin_client: Client, tenant: None) -> None:
    response = admin_client.get(
        ACTIVE, {"q": "al"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="active-results"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="active-results"')
    assert "<html" not in html
    assert names(response) == ["Alex Wilber"]


def test_active_users_pages_by_keyset_with_the_users_tabs_page_size(
    admin_client: Client, admin: DirectoryUser
) -> None:
    bulk_users(60, prefix="pager")
    admin_client.get(USERS, {"size": 25})  # chosen on the users tab, it sticks here too
    seen: list[str] = []
    response = admin_client.get(ACTIVE)
    seen += names(response)
    pages = 1
    while 'rel="next"' in response.content.decode():
        response = admin_client.get(link(response.content.decode(), "next"))
        seen += names(response)
        pages += 1
    assert pages == 3
    assert seen == sorted(DirectoryUser.objects.values_list("display_name", flat=True))
    assert "Page 3" in response.content.decode()
    back = admin_client.get(link(response.content.decode(), "prev"))
    assert "Page 2" in back.content.decode()


def test_a_click_keeps_the_page_the_admin_was_on(
    admin_client: Client, admin: DirectoryUser
) -> None:
    bulk_users(60, prefix="pager")
    first = admin_client.get(ACTIVE, {"size": "25", "q": "pager"})
    second = admin_client.get(link(first.content.decode(), "next"))
    opened = admin_client.get(user_link(second, names(second)[0]))
    assert names(opened) == names(second)
    assert "Page 2" in opened.content.decode()


def test_sorting_by_user_name_both_ways(admin_client: Client, tenant: None) -> None:
    by_upn = admin_client.get(ACTIVE, {"sort": "user_principal_name"}).content.decode()
    upns = re.findall(r"</a>(?:.*?)</td><td>([^<]+@contoso\.test)</td>", by_upn)
    assert upns == sorted(upns)
    desc = admin_client.get(ACTIVE, {"sort": "-user_principal_name"}).content.decode()
    assert re.findall(r"</a>(?:.*?)</td><td>([^<]+@contoso\.test)</td>", desc) == sorted(
        upns, reverse=True
    )
    assert 'aria-sort="descending"' in desc


def test_active_users_never_counts_the_whole_table(admin_client: Client, tenant: None) -> None:
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(ACTIVE, {"q": "a"})
    assert_no_count_of_the_whole_table(queries.captured_queries)


@pytest.mark.parametrize(
    ("params", "page_queries"),
    [
        ({}, 3),
        ({"sort": "-user_principal_name"}, 3),
        ({"size": 200}, 3),
        # A search is the page's one query when a page of matches lies among the next 1,000
        # users, as on the users tab (one more when it does not).
        ({"q": "adq"}, 3),
        # The pane: one query for the user it shows.
        ({"user": "{adele}"}, 4),
    ],
)
def test_query_count_of_active_users_is_pinned_and_does_not_grow_with_rows(
    admin_client: Client,
    tenant: None,
    django_assert_max_num_queries,
    params: dict[str, str | int],
    page_queries: int,
) -> None:
    bulk_users(250, prefix="adq")
    admin_client.get(ACTIVE, {"size": 200})  # the page size is written to the session once
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    asked = {key: str(value).format(adele=adele.object_id) for key, value in params.items()}
    with django_assert_max_num_queries(page_queries):
        response = admin_client.get(ACTIVE, asked)
    assert response.status_code == 200
    assert len(names(response)) == 200  # a full page, whatever the tenant holds


def test_helpdesk_reaches_active_users_and_the_pane(client: Client, helpdesk, tenant) -> None:
    client.force_login(helpdesk)
    adele = DirectoryUser.objects.get(user_principal_name="adele@contoso.test")
    response = client.get(ACTIVE, {"user": str(adele.object_id)})
    assert response.status_code == 200
    assert "Manage multi-factor authentication" in pane(response)


def test_the_header_links_active_users_and_multi_factor_authentication_for_staff(
    admin_client: Client, tenant: None
) -> None:
    html = admin_client.get(ACTIVE).content.decode()
    header = html.split('<header class="topbar">', 1)[1].split("</header>", 1)[0]
    assert f'<a href="{ACTIVE}" aria-current="page">Active users</a>' in header
    assert f'<a href="{USERS}">multi-factor authentication</a>' in header
    users_header = admin_client.get(USERS).content.decode().split("</header>", 1)[0]
    assert f'<a href="{ACTIVE}">Active users</a>' in users_header
    assert f'<a href="{USERS}" aria-current="page">multi-factor authentication</a>' in users_header


def test_plain_users_see_neither_header_link(client: Client, tenant: None) -> None:
    plain = make_user("plain@contoso.test")
    client.force_login(plain)
    html = client.get(reverse("selfservice:setup")).content.decode()
    header = html.split("</header>", 1)[0]
    assert ACTIVE not in header
    assert f'href="{USERS}"' not in header
