"""Sessions read by a statement compiled once (mfaportal.core.sessions): what Django's
database sessions do, without compiling the query on every request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db.models.sql.compiler import SQLCompiler
from django.test import Client
from django.utils import timezone

from mfaportal.core.sessions import SessionStore
from tests.factories import make_user


def _saved(**values: Any) -> str:
    store = SessionStore()
    store.update(values)
    store.create()
    assert store.session_key is not None
    return store.session_key


@pytest.mark.django_db
def test_a_session_reads_back_what_was_saved_without_compiling_its_query_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _saved(size=100, name="Zoë")
    assert SessionStore(key).load() == {"size": 100, "name": "Zoë"}
    compiled: list[str] = []
    original = SQLCompiler.as_sql

    def counted(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        compiled.append(self.query.model.__name__ if self.query.model else "?")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counted)
    assert SessionStore(key).load() == {"size": 100, "name": "Zoë"}
    assert compiled == []


@pytest.mark.django_db
def test_an_expired_session_is_not_read_and_saving_starts_a_new_one() -> None:
    key = _saved(secret="kept")
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    store = SessionStore(key)
    assert store.load() == {}
    store["fresh"] = True
    store.save()
    assert store.session_key != key


@pytest.mark.django_db
def test_an_unknown_key_reads_as_an_empty_session() -> None:
    assert SessionStore("x" * 32).load() == {}


@pytest.mark.django_db
def test_a_signed_in_person_stays_signed_in_until_their_session_expires() -> None:
    user = make_user("adele@contoso.test", registered=True)
    client = Client()
    client.force_login(user)
    assert client.get("/mfa/app-passwords/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    answer = client.get("/mfa/app-passwords/")
    assert answer.status_code == 302 and "/signin/" in answer["Location"]
