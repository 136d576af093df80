"""The signed-in admin's one query per request (admin_portal.backends): the View dropdown's
roles come from asking each role whether it has a member, never from reading every role
membership of the tenant (1.4 ms of every admin page at 100k users on PostgreSQL, issue 15)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mfaportal.admin_portal.backends import _SIGNED_IN
from mfaportal.core import roles
from mfaportal.directory.models import DirectoryUser
from tests.admin_portal.conftest import bulk_users, sqlite_steps
from tests.factories import make_user
from tests.factories import role as factory_role

pytestmark = pytest.mark.django_db
USERS = reverse("admin_portal:users")
MEMBERSHIPS = DirectoryUser.roles.through._meta.db_table


def test_a_role_whose_last_member_left_is_no_longer_offered_in_the_view_dropdown(
    admin_client: Client, admin: DirectoryUser
) -> None:
    sharepoint = roles.ROLES_BY_TEMPLATE_ID["f28a1f50-f6e7-4571-818b-6a12f2af6b6c"]
    member = make_user("sp@contoso.test", admin_role=sharepoint)
    assert ">SharePoint administrators<" in admin_client.get(USERS).content.decode()
    member.roles.clear()
    html = admin_client.get(USERS).content.decode()
    assert "SharePoint administrators" not in html
    assert factory_role(sharepoint).pk  # the role is still in the directory, unheld
    assert ">Global administrators<" in html


def _memberships_read(plan: Any) -> int:
    """How many role memberships a PostgreSQL plan (EXPLAIN ANALYZE, JSON) read."""
    read = 0
    nodes = [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if node.get("Relation Name") == MEMBERSHIPS:
            read += node["Actual Rows"] * node["Actual Loops"]
        nodes.extend(node.get("Plans", []))
    return read


def _signed_in_query_work(admin: DirectoryUser) -> int:
    """The work of the signed-in admin's query: on SQLite the virtual machine steps it took,
    on PostgreSQL the role memberships it read."""
    sql, params = _SIGNED_IN.sql(connection.alias, (admin.pk, timezone.now() - timedelta(days=1)))
    if connection.vendor == "sqlite":
        return sqlite_steps(sql, params)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    return _memberships_read(json.loads(plan) if isinstance(plan, str) else plan)


def test_an_admin_page_costs_the_same_however_many_people_hold_roles(
    admin: DirectoryUser,
) -> None:
    """The admin's query asks each role for one member: with 20 times more role holders it
    does no more work (it read every membership, 1.4 ms at 100k users on PostgreSQL)."""
    held = roles.BUILT_IN_ROLES[:6]
    holders = bulk_users(1200, prefix="holder")
    for index, template in enumerate(held):
        factory_role(template).members.add(*holders[index * 10 : index * 10 + 10])
    few = _signed_in_query_work(admin)
    for index, template in enumerate(held):
        factory_role(template).members.add(*holders[index * 200 + 10 : index * 200 + 200])
    many = _signed_in_query_work(admin)
    assert many <= few * 1.1, (few, many)
