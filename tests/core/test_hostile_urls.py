"""No 500 from a URL (issue 14, finding 7): every GET route, signed in as an admin, as a
plain user and signed out, with hostile path and query values, answers 200, 302, 400, 403
or 404.

The routes come from the URL resolver (as test_every_page_is_checked.py walks them), so a
new route is fuzzed the day it is added. Each route is tried with every hostile value in
every usual parameter at once, then with each value alone in each parameter the view reads
(recorded while it answers a plain GET)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from django.http import QueryDict
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from mfaportal.core import roles
from mfaportal.core.models import AuditEvent, AuditSource
from mfaportal.directory.models import DirectoryUser
from mfaportal.mfa.models import MfaState
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ALLOWED = {200, 302, 400, 403, 404}
# Answers that are not pages but are what these routes are for.
ALSO_ALLOWED = {"legacy_auth": {401}}  # HTTP Basic without credentials: the asked-for answer


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Already percent-encoded: a lone surrogate's UTF-8 bytes, NUL, and the rest.
HOSTILE = [
    "%ED%A0%80",
    "%00",
    "a" * 10_000,
    "9999-12-31",
    "0001-01-01",
    "-1",
    str(10**30),
    "abc",
    "",
    "%FF%FE",
    "1e999",
    "WyJcdWQ4MDAiLDFd",  # ["\ud800",1]
    "WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTEyOjAwIiwgMV0",  # ["9999-12-31T23:59:59-12:00", 1]
    _b64(["0001-01-01T00:00:00+14:00", 1]),
    _b64(["a", 10**30]),
    _b64(["a", -(10**30)]),
    _b64([None, None]),
    _b64({"a": 1}),
    _b64([[], {}]),
    _b64(["x", 1, 2]),
    _b64("\x00"),
    _b64(b"\xff\xfe\x00"),
    _b64(["9999-12-31", 1.5]),
]
PARAMS = [
    "after",
    "before",
    "page",
    "per_page",
    "size",
    "sort",
    "q",
    "date_from",
    "date_to",
    "view",
    "status",
    "id",
    "u",
    "user",
    "all",
    "next",
    "number",
    "address",
    "actor",
    "target",
    "action",
    "source",
    "in_dialog",
    "polling",
    "service",
    "login_hint",
]
PATH_VALUES = {
    "int": ["0", "1", str(10**30), "9" * 5000],
    "uuid": [str(uuid.UUID(int=0)), str(uuid.uuid4())],
    "slug": ["enable", "abc", "a" * 10_000],
    "str": ["abc", "a" * 10_000],
}


def _routes(
    patterns: Iterable[URLPattern | URLResolver] | None = None, prefix: str = "", ns: str = ""
) -> Iterator[tuple[str, str]]:
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{ns}{pattern.namespace}:" if pattern.namespace else ns
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            yield ns + (pattern.name or str(pattern.pattern)), prefix + str(pattern.pattern)


_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def _paths(route: str, known: dict[str, str]) -> list[str]:
    """The route with its parameters filled: a real object's id where the test has one,
    then each hostile value in each parameter in turn."""
    found = _PARAMETER.findall(route)

    def filled(choice: dict[str, str]) -> str:
        return "/" + _PARAMETER.sub(lambda m: quote(choice[m.group(2)], safe=""), route)

    base = {name: known.get(name, PATH_VALUES[kind or "str"][0]) for kind, name in found}
    paths = [filled(base)]
    for kind, name in found:
        for value in PATH_VALUES[kind or "str"]:
            paths.append(filled({**base, name: value}))
    return list(dict.fromkeys(paths))


@contextmanager
def _recording_reads() -> Iterator[set[str]]:
    """The query parameter names a view asks for while it answers."""
    read: set[str] = set()
    original_get, original_getlist = QueryDict.get, QueryDict.getlist

    def get(self: QueryDict, key: str, default: Any = None) -> Any:
        read.add(key)
        return original_get(self, key, default)

    def getlist(self: QueryDict, key: str, default: Any = None) -> Any:
        read.add(key)
        return original_getlist(self, key, default)

    with mock.patch.object(QueryDict, "get", get), mock.patch.object(QueryDict, "getlist", getlist):
        yield read


def _fuzz(client: Client, name: str, route: str, known: dict[str, str]) -> list[str]:
    allowed = ALLOWED | ALSO_ALLOWED.get(name, set())
    problems: list[str] = []

    def fetch(url: str, also: frozenset[int] = frozenset()) -> int:
        try:
            status = client.get(url).status_code
        except Exception as error:  # the test client re-raises what would be a 500
            problems.append(f"{url[:160]} -> {type(error).__name__}: {str(error)[:160]}")
            return 500
        if status not in allowed | also:
            problems.append(f"{url[:160]} -> {status}")
        return status

    for path in _paths(route, known):
        with _recording_reads() as read:
            if fetch(path, also=frozenset({405})) == 405:
                continue  # not a GET route
            # A form reads its fields only when some parameter is there.
            fetch(path + "?" + "&".join(f"{param}=1" for param in PARAMS))
        for value in HOSTILE:
            fetch(path + "?" + "&".join(f"{param}={value}" for param in PARAMS))
        for param in sorted(read):
            for value in HOSTILE:
                fetch(f"{path}?{quote(param)}={value}")
    return problems


@pytest.fixture
def tenant() -> dict[str, str]:
    admin = make_user("admin@contoso.test", admin_role=roles.GLOBAL_ADMINISTRATOR)
    make_user("adele@contoso.test", state=MfaState.ENFORCED, registered=True)
    for n in range(3):
        make_user(f"user{n}@contoso.test")
    AuditEvent.objects.create(
        action="mfa.state_changed", source=AuditSource.PAGE, actor=admin, target=admin
    )
    return {"object_id": str(admin.object_id)}


# Kiritimati is 14 hours ahead of UTC: the first day of the calendar starts before any
# datetime can (0001-01-01 there is still year 0 in UTC).
@override_settings(TIME_ZONE="Pacific/Kiritimati")
def test_no_get_route_answers_500_to_hostile_values(tenant: dict[str, str]) -> None:
    routes = list(_routes())
    problems: list[str] = []
    for upn in ("admin@contoso.test", "adele@contoso.test", ""):
        client = Client(raise_request_exception=True)
        if upn:
            client.force_login(_user(upn))
        for name, route in routes:
            who = upn or "(signed out)"
            problems += [f"{who} {name}: {p}" for p in _fuzz(client, name, route, tenant)]
    assert not problems, "\n".join(problems[:60]) + f"\n({len(problems)} in all)"


def _user(upn: str) -> DirectoryUser:
    return DirectoryUser.objects.by_upn(upn).get()


def test_the_walk_finds_the_parameters_each_view_reads(tenant: dict[str, str]) -> None:
    """The one-parameter-at-a-time pass relies on the recording: it must see the cursor,
    the page size and the audit form's dates."""
    client = Client()
    client.force_login(_user("admin@contoso.test"))
    with _recording_reads() as users_list:
        client.get("/admin/users/")
    with _recording_reads() as audit:
        client.get("/admin/audit/?actor=1")
    assert {"after", "before", "size", "sort", "q"} <= users_list
    assert {"after", "date_from", "date_to"} <= audit
    names = dict(_routes())
    assert names["admin_portal:user_detail"] == "admin/users/<uuid:object_id>/"
    assert _paths(names["admin_portal:user_detail"], tenant)[0] == (
        f"/admin/users/{tenant['object_id']}/"
    )


# --- the tampered URLs the attack report names -------------------------------------------


@pytest.fixture
def admin_client(tenant: dict[str, str], client: Client) -> Client:
    client.force_login(_user("admin@contoso.test"))
    return client


def test_a_users_cursor_holding_a_lone_surrogate_shows_the_first_page(admin_client) -> None:
    for url in ("/admin/users/", "/admin/active-users/"):
        response = admin_client.get(url + "?after=WyJcdWQ4MDAiLDFd")
        assert response.status_code == 200
        assert "admin@contoso.test" in response.content.decode()


def test_an_audit_cursor_beyond_the_calendar_shows_the_first_page(admin_client) -> None:
    response = admin_client.get("/admin/audit/?after=WyI5OTk5LTEyLTMxVDIzOjU5OjU5LTEyOjAwIiwgMV0")
    assert response.status_code == 200
    assert "admin@contoso.test" in response.content.decode()


@override_settings(TIME_ZONE="Pacific/Kiritimati")
def test_audit_dates_at_the_ends_of_the_calendar_mean_no_bound(admin_client) -> None:
    for query in ("date_to=9999-12-31", "date_from=0001-01-01", "date_from=9999-12-31"):
        response = admin_client.get(f"/admin/audit/?{query}")
        assert response.status_code == 200, query
    everything = admin_client.get("/admin/audit/?date_from=0001-01-01&date_to=9999-12-31")
    assert "admin@contoso.test" in everything.content.decode()


def test_a_selection_with_an_id_no_row_can_have_selects_nobody(admin_client) -> None:
    response = admin_client.get("/admin/users/steps/?u=" + str(10**30) + "&u=-1&u=%C2%B2")
    assert response.status_code == 200
