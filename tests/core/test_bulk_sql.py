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


HOSTILE = [
    'Zoë "Q" O\'Brien',
    "back\\slash",
    "{braces, commas}",
    "NULL",
    "",
    "<b>&amp;</b>",
    "日本語",
]


def test_rows_written_in_bulk_read_back_exactly_as_given() -> None:
    from django.utils import timezone

    from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_bulk
    from mfaportal.core.bulk_sql import bulk_insert
    from mfaportal.core.models import AuditEvent, AuditSource

    now = timezone.now()
    ids = [uuid.uuid4() for _ in HOSTILE]
    expected = {
        oid: (name, name, n % 2 == 0, n % 3 == 0, now)
        for n, (oid, name) in enumerate(zip(ids, HOSTILE, strict=True))
    }
    fields = ["display_name", "mail", "account_enabled", "is_licensed", "synced_at"]

    statements = statements_of(
        lambda: bulk_insert(
            DirectoryUser,
            fields=["object_id", "user_principal_name", *fields],
            rows=[(oid, f"{oid}@contoso.test", *values) for oid, values in expected.items()],
            conflict=["object_id"],
            update=["display_name"],
        )
    )
    written = audit_record_bulk(
        ChangeContext(actor=None, source=AuditSource.SYNC, ip_address="2001:db8::1"),
        [
            AuditEntry("mfa.state", None, name, detail={"why": name, "n": [1, None]})
            for name in HOSTILE
        ],
    )

    got = {
        values[0]: tuple(values[1:])
        for values in DirectoryUser.objects.filter(object_id__in=ids).values_list(
            "object_id", *fields
        )
    }
    assert got == expected
    events = AuditEvent.objects.filter(action="mfa.state").order_by("id")
    assert written == len(HOSTILE)
    assert [(e.target_label, e.detail, e.ip_address) for e in events] == [
        (name, {"why": name, "n": [1, None]}, "2001:db8::1") for name in HOSTILE
    ]
    ((_sql, params),) = statements
    if connection.vendor == "postgresql":
        # One string for the rows: no list for psycopg to quote element by element.
        assert not any(isinstance(param, list) for param in params)
