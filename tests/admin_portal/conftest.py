from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
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
