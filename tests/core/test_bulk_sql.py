"""Bulk SQL for the sync: a long list of keys goes to the database as one parameter."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection, models

from mfaportal.core.bulk_sql import one_of
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import UserMfa
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def statements_of(run: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        run()
    return seen


def test_a_page_of_object_ids_finds_its_users_with_one_parameter() -> None:
    users = [make_user(f"user{n}@contoso.test") for n in range(3)]
    wanted = [uuid.uuid4() for _ in range(1500)] + [users[0].object_id, users[2].object_id]
    found: list[int] = []

    statements = statements_of(
        lambda: found.extend(
            DirectoryUser.objects.filter(
                one_of("object_id", wanted, models.UUIDField())
            ).values_list("pk", flat=True)
        )
    )

    assert sorted(found) == sorted([users[0].pk, users[2].pk])
    ((_sql, params),) = statements
    assert len(params) == 1  # not one placeholder per id for the ORM to prepare


def test_a_long_list_of_user_keys_finds_their_rows_with_one_parameter() -> None:
    users = [make_user(f"key{n}@contoso.test") for n in range(3)]
    keys = [users[1].pk, users[2].pk, *range(10**9, 10**9 + 2000)]
    found: list[int] = []

    statements = statements_of(
        lambda: found.extend(
            UserMfa.objects.filter(one_of("user_id", keys, models.BigIntegerField())).values_list(
                "user_id", flat=True
            )
        )
    )

    assert sorted(found) == [users[1].pk, users[2].pk]
    ((_sql, params),) = statements
    assert len(params) == 1


def test_an_empty_list_finds_nothing() -> None:
    make_user("someone@contoso.test")

    assert not DirectoryUser.objects.filter(one_of("object_id", [], models.UUIDField())).exists()
