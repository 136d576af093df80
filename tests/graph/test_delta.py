"""Incremental sync with /users/delta."""

from __future__ import annotations

import pytest

from mfaportal.graph import DeltaPage, DeltaTokenExpired, GraphClient, GraphUser
from tests.graph_emulator import GraphEmulator


def run_delta(client: GraphClient, delta_link: str | None = None) -> tuple[list[GraphUser], str]:
    pages: list[DeltaPage] = list(client.users_delta(delta_link))
    assert all(page.delta_link is None for page in pages[:-1])
    assert pages[-1].is_last and pages[-1].next_link is None
    assert pages[-1].delta_link is not None
    return [user for page in pages for user in page.users], pages[-1].delta_link


def test_initial_delta_pages_through_every_user(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.delta_page_size = 25

    users, delta_link = run_delta(graph_client)

    assert len(users) == 60
    assert len({user.id for user in users}) == 60
    assert delta_link.startswith(f"{graph_emulator.graph_url}/v1.0/users/delta?")
    assert "$deltatoken=" in delta_link
    requests = graph_emulator.log.matching(r"/v1.0/users/delta$")
    assert len(requests) == 3  # 25 + 25 + 10
    assert "$select" in requests[0].query
    assert all("$skiptoken" in request.query for request in requests[1:])


def test_delta_reports_adds_renames_disables_and_removals(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    tenant = graph_emulator.tenant
    _, delta_link = run_delta(graph_client)
    nothing, delta_link = run_delta(graph_client, delta_link)
    assert nothing == []

    added = tenant.add_user("Nouveau Zoë", alias="nouveau")
    renamed = tenant.rename_user(tenant.user_id_for(10), "Renamed <Person> & Co")
    disabled = tenant.disable_user(tenant.user_id_for(11))
    soft_deleted = tenant.remove_user(tenant.user_id_for(12))
    hard_deleted = tenant.remove_user(tenant.user_id_for(13), permanently=True)
    tenant.rename_user(tenant.user_id_for(10), "Renamed <Person> & Co.")  # twice: reported once

    changes, next_link = run_delta(graph_client, delta_link)

    by_id = {user.id: user for user in changes}
    assert len(changes) == len(by_id) == 5
    assert by_id[added.id].display_name == "Nouveau Zoë"
    assert by_id[added.id].removed is False
    assert by_id[renamed.id].display_name == "Renamed <Person> & Co."
    assert by_id[disabled.id].account_enabled is False
    assert by_id[soft_deleted.id].removed is True
    assert by_id[soft_deleted.id].removed_reason == "changed"
    assert by_id[hard_deleted.id].removed is True
    assert by_id[hard_deleted.id].removed_reason == "deleted"
    assert by_id[hard_deleted.id].display_name is None
    # And the next round starts after these changes.
    assert run_delta(graph_client, next_link)[0] == []


def test_changes_spanning_several_delta_pages(
    graph_emulator: GraphEmulator, graph_client: GraphClient
) -> None:
    graph_emulator.delta_page_size = 10
    _, delta_link = run_delta(graph_client)
    for index in range(3, 28):
        graph_emulator.tenant.rename_user(
            graph_emulator.tenant.user_id_for(index), f"Renamed {index}"
        )

    changes, _ = run_delta(graph_client, delta_link)

    assert sorted(user.display_name or "" for user in changes) == sorted(
        f"Renamed {index}" for index in range(3, 28)
    )


@pytest.mark.parametrize(
    ("shape", "code"),
    [
        ("syncStateNotFound", "syncStateNotFound"),
        ("SyncStateNotFound", "SyncStateNotFound"),  # the case real Graph has answered in
        ("resyncRequired", "resyncRequired"),
        ("gone", "gone"),  # a bare 410 with a Location header: "Synchronization reset"
    ],
)
def test_every_documented_shape_of_an_expired_delta_token_means_a_full_resync(
    graph_emulator: GraphEmulator, graph_client: GraphClient, shape: str, code: str
) -> None:
    _, delta_link = run_delta(graph_client)
    graph_emulator.tenant.expire_delta_tokens(shape)

    with pytest.raises(DeltaTokenExpired) as caught:
        run_delta(graph_client, delta_link)

    assert caught.value.code == code
    assert caught.value.status == 410
    # The documented way out: a full sync without a token.
    users, _ = run_delta(graph_client)
    assert len(users) == 60


def test_delta_link_of_another_host_means_full_resync(graph_client: GraphClient) -> None:
    with pytest.raises(DeltaTokenExpired):
        next(graph_client.users_delta("https://graph.microsoft.com/v1.0/users/delta?$deltatoken=x"))
