"""The portal's SQLite backend (mfaportal.core.sqlite): Django's, with each statement's
placeholders converted once. Every test runs on both databases: a connection of the
portal's backend is opened here on a database of its own."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import SQLiteCursorWrapper as DjangosCursor
from django.db.utils import ConnectionHandler

from mfaportal.core.sqlite import base as portal_sqlite
from mfaportal.settings import SQLITE_ENGINE


@pytest.fixture
def own() -> Iterator[BaseDatabaseWrapper]:
    handler = ConnectionHandler({"default": {"ENGINE": SQLITE_ENGINE, "NAME": ":memory:"}})
    opened = handler["default"]
    with opened.cursor() as cursor:
        cursor.execute("CREATE TABLE people (name TEXT, note TEXT)")
    yield opened
    opened.close()


def test_the_configured_sqlite_database_runs_the_portals_backend() -> None:
    expected = SQLITE_ENGINE if connection.vendor == "sqlite" else "django.db.backends.postgresql"
    assert settings.DATABASES["default"]["ENGINE"] == expected


@pytest.mark.django_db  # pytest-django lets a test open a connection only so
def test_statements_answer_as_with_djangos_backend(own: BaseDatabaseWrapper) -> None:
    with own.cursor() as cursor:
        assert isinstance(cursor.cursor, portal_sqlite.SQLiteCursorWrapper)
        cursor.executemany(
            "INSERT INTO people (name, note) VALUES (%s, %s)",
            [("Adele", "50% off"), ("Megan", "%s is literal")],
        )
        # %% is a literal per cent sign; a %s in a parameter is only text.
        cursor.execute(
            "SELECT name, note FROM people WHERE note LIKE '%%' || %s || '%%' ORDER BY name",
            ["%"],
        )
        assert cursor.fetchall() == [("Adele", "50% off"), ("Megan", "%s is literal")]
        cursor.execute("SELECT name FROM people WHERE name = %s", ["Megan"])
        assert cursor.fetchall() == [("Megan",)]


def test_a_statement_is_converted_once_and_to_the_same_text_as_djangos() -> None:
    portal_sqlite._qmark.cache_clear()
    query = "SELECT a FROM t WHERE b = %s AND c LIKE '5%%' AND d IN (%s, %s)"
    cursor: Any = object.__new__(portal_sqlite.SQLiteCursorWrapper)
    djangos: Any = object.__new__(DjangosCursor)
    for _ in range(3):
        assert cursor.convert_query(query) == djangos.convert_query(query)
    info = portal_sqlite._qmark.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # Named placeholders are Django's business, converted each time as it does.
    named = "SELECT a FROM t WHERE b = %(b)s"
    assert cursor.convert_query(named, param_names=["b"]) == "SELECT a FROM t WHERE b = :b"


def test_a_long_statement_is_converted_but_not_kept() -> None:
    portal_sqlite._qmark.cache_clear()
    long_in = "SELECT a FROM t WHERE id IN (" + ", ".join(["%s"] * 5000) + ")"
    assert len(long_in) > portal_sqlite._KEPT_LENGTH
    cursor: Any = object.__new__(portal_sqlite.SQLiteCursorWrapper)
    converted = cursor.convert_query(long_in)
    assert converted.count("?") == 5000 and "%" not in converted
    assert portal_sqlite._qmark.cache_info().currsize == 0


def test_the_benchmarks_floor_runs_djangos_own_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.__main__ import Floor

    started: list[dict[str, str]] = []

    def popen(*args: Any, env: dict[str, str], **kwargs: Any) -> None:
        started.append(env)

    monkeypatch.setattr(subprocess, "Popen", popen)
    Floor()
    handed = json.loads(started[0]["FLOOR_DATABASE"])
    expected = (
        "django.db.backends.sqlite3"
        if connection.vendor == "sqlite"
        else connection.settings_dict["ENGINE"]
    )
    assert handed["ENGINE"] == expected
