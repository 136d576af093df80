from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState, UserMfa
from tests.factories import make_user


@pytest.fixture
def admin(db: None) -> DirectoryUser:
    return make_user(
        "admin@contoso.test",
        display_name="MOD Administrator",
        admin_role=roles.GLOBAL_ADMINISTRATOR,
    )


@pytest.fixture
def helpdesk(db: None) -> DirectoryUser:
    return make_user(
        "helpdesk@contoso.test",
        display_name="Helpdesk Agent",
        admin_role=roles.AUTHENTICATION_ADMINISTRATOR,
    )


@pytest.fixture
def admin_client(client: Client, admin: DirectoryUser) -> Client:
    client.force_login(admin)
    return client


@pytest.fixture
def helpdesk_client(client: Client, helpdesk: DirectoryUser) -> Client:
    client.force_login(helpdesk)
    return client


def streamed_text(response: Any) -> str:
    """The body of a streamed response (the CSV exports)."""
    return b"".join(response.streaming_content).decode()


def bulk_users(
    count: int,
    *,
    prefix: str = "bulk",
    state: MfaState = MfaState.DISABLED,
    **fields: object,
) -> list[DirectoryUser]:
    """Many users fast (bulk inserts), for selections larger than a page."""
    users = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                user_principal_name=f"{prefix}{number:05d}@contoso.test",
                display_name=f"{prefix.title()} User {number:05d}",
                mail=f"{prefix}{number:05d}@contoso.test",
                **fields,
            )
            for number in range(count)
        ]
    )
    UserMfa.objects.bulk_create([UserMfa(user=user, state=state) for user in users])
    return users


def states(users: Iterable[DirectoryUser]) -> dict[str, MfaState]:
    ids = [user.pk for user in users]
    found = dict(UserMfa.objects.filter(user_id__in=ids).values_list("user_id", "state"))
    return {
        user.user_principal_name: MfaState(found.get(user.pk, MfaState.DISABLED)) for user in users
    }


def assert_no_count_of_the_whole_table(queries: Iterable[dict[str, Any]]) -> None:
    """A list page counts nothing but a search's bound on its matches, which reads a page's
    worth and one more index entries (``… LIMIT 51) bound``); OFFSET only within the search
    window's bounded probe."""
    from mfaportal.mfa.selectors.users import PAGE_SIZES, SEARCH_WINDOW

    for sql in (query["sql"].upper() for query in queries):
        bounds = re.findall(r"LIMIT (\d+)\) BOUND\)", sql)
        assert sql.count("COUNT(") == len(bounds), sql
        assert all(int(limit) <= max(PAGE_SIZES) + 1 for limit in bounds), sql
        assert all(int(offset) < SEARCH_WINDOW for offset in re.findall(r" OFFSET (\d+)", sql))


def sqlite_steps(sql: str, params: Any, every: int = 1) -> int:
    """The virtual machine steps SQLite takes to run a statement and fetch its rows (counted
    ``every`` steps at a time): the work it does, whatever the machine's speed."""
    steps = [0]

    def counted() -> int:
        steps[0] += 1
        return 0

    connection.ensure_connection()
    raw = connection.connection
    raw.set_progress_handler(counted, every)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()
    finally:
        raw.set_progress_handler(None, 0)
    return steps[0] * every
