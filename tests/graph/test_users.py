"""Listing users: paging, $select, $top, and directory data that is not plain ASCII."""

from __future__ import annotations

import pytest
import trustme

from mfaportal.graph import USER_SELECT, GraphClient, GraphError, GraphNotFound, TokenProvider
from tests.graph_emulator import GraphEmulator


def test_users_list_streams_every_page_with_select_and_top(graph_emulator: GraphEmulator) -> None:
    for index in range(2_500):  # a tenant of 2,560 users: three pages of 999
        graph_emulator.tenant.add_user(f"Extra {index}", alias=f"extra{index}")
    client = GraphClient(
        graph_emulator.graph_config(), token_provider=TokenProvider(graph_emulator.graph_config())
    )

    pages = client.users_list()
    first_page = next(pages)
    # A generator: nothing beyond the first page was fetched yet.
    assert len(graph_emulator.log.matching(r"^/v1.0/users$")) == 1
    rest = list(pages)

    assert [len(first_page)] + [len(page) for page in rest] == [999, 999, 562]
    ids = [user.id for page in [first_page, *rest] for user in page]
    assert len(ids) == len(set(ids)) == 2_560
    requests = graph_emulator.log.matching(r"^/v1.0/users$")
    assert len(requests) == 3
    first, *following = requests
    assert first.query["$top"] == ["999"]
    assert first.query["$select"] == [",".join(USER_SELECT)]
    # nextLink followed verbatim: $select and $top travel inside it, with the skiptoken.
    assert all("$skiptoken" in request.query for request in following)
    assert all(request.query["$select"] == [",".join(USER_SELECT)] for request in following)


def test_user_fields_are_mapped(graph_emulator: GraphEmulator, graph_client: GraphClient) -> None:
    tenant = graph_emulator.tenant
    unlicensed = tenant.add_user("No Licence", alias="nolicence", licensed=False)
    blocked = tenant.add_user("Blocked User", alias="blocked", account_enabled=False)

    users = {user.id: user for page in graph_client.users_list() for user in page}

    assert users[unlicensed.id].is_licensed is False
    assert users[unlicensed.id].mail is None
    assert users[blocked.id].account_enabled is False
    assert users[blocked.id].is_licensed is True
    admin = users[tenant.user_id_for(0)]
    assert (admin.user_principal_name, admin.display_name, admin.account_enabled) == (
        "admin@contoso.test",
        "MFA Admin",
        True,
    )


def test_html_and_non_ascii_names_round_trip(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    names = [
        'Robert "Bobby" <b>Tables</b> & Sons',
        "<script>alert('x')</script>",
        "Zoë Ångström-Nguyễn 日本語 🙂",
        "O'Brien & Dvořák",
    ]
    created = [
        graph_emulator.tenant.add_user(name, alias=f"name{i}") for i, name in enumerate(names)
    ]

    listed = {user.id: user.display_name for page in graph_client.users_list() for user in page}
    fetched = [graph_client.user_get(user.id).display_name for user in created]

    assert [listed[user.id] for user in created] == names
    assert fetched == names


def test_user_lookup_by_upn_with_hash_and_missing_user(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    guest = next(u for u in graph_emulator.tenant.iter_users() if "#EXT#" in u.user_principal_name)

    assert graph_client.user_get(guest.user_principal_name).id == guest.id
    with pytest.raises(GraphNotFound) as caught:
        graph_client.user_get("nobody@contoso.test")
    assert caught.value.code == "Request_ResourceNotFound"
    assert caught.value.status == 404
    assert caught.value.request_id


def test_page_size_out_of_range_is_a_bad_request(graph_client: GraphClient) -> None:
    with pytest.raises(GraphError) as caught:
        next(graph_client.users_list(page_size=1000))

    assert caught.value.status == 400
    assert "between 1 and 999" in caught.value.message


def test_unknown_select_property_is_refused(graph_client: GraphClient) -> None:
    with pytest.raises(GraphError) as caught:
        next(graph_client.users_list(select=["id", "displayNme"]))

    assert caught.value.code == "Request_BadRequest"


def test_next_link_to_another_host_is_not_followed(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    with pytest.raises(GraphError) as caught:
        list(graph_client.pages("https://attacker.example/v1.0/users?$skiptoken=x"))

    assert caught.value.code == "unexpectedLink"
    assert not graph_emulator.log.matching("users")


def test_hundred_thousand_users_page_through_every_next_link(emulator_ca: trustme.CA) -> None:
    with GraphEmulator(users=100_000, ca=emulator_ca) as emulator:
        config = emulator.graph_config()
        client = GraphClient(config, token_provider=TokenProvider(config))
        count = 0
        last_user = None
        for page in client.users_list():
            count += len(page)
            last_user = page[-1]

    assert count == 100_000
    assert last_user is not None and last_user.id == emulator.tenant.user_id_for(99_999)
    # How fast is bench/graph_sync.py's to measure beside its floor, never a timed test.
