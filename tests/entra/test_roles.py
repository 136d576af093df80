"""Who holds an admin role in graph mode: directly, through a role-assignable group, only as
eligible in Privileged Identity Management, or only over an administrative unit. Entra
protects every such holder from those who may act only on non-admins, so the portal must
know them all; only a role held tenant-wide and active gives a portal role."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mfaportal.core import roles
from mfaportal.core.audit import ChangeContext
from mfaportal.core.models import AuditSource
from mfaportal.directory.models import DirectoryRole, DirectoryUser
from mfaportal.entra.sync import directory_sync
from mfaportal.mfa.services import mfa_reregistration_require
from tests.entra.test_signin import signed_in_user, start
from tests.graph_emulator.server import GraphEmulator

pytestmark = pytest.mark.django_db

CONDITIONAL_ACCESS_ADMINISTRATOR = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9"
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
HELPDESK_ADMINISTRATOR = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
SECURITY_ADMINISTRATOR = "194ae4cb-b126-40b2-bd5b-6091b380977d"
AN_ADMINISTRATIVE_UNIT = f"/administrativeUnits/{uuid.uuid4()}"


def cached(emulator: GraphEmulator, index: int) -> DirectoryUser:
    return DirectoryUser.objects.get(object_id=emulator.tenant.user_at(index).id)


def test_the_helpdesk_cannot_change_anyone_holding_a_privileged_role_however_it_is_held(
    graph_mode: GraphEmulator,
) -> None:
    tenant = graph_mode.tenant
    uid = tenant.user_id_for
    # Outside the few roles the portal used to read:
    tenant.assign_role(roles.PRIVILEGED_ROLE_ADMINISTRATOR.template_id, uid(10))
    tenant.assign_role(CONDITIONAL_ACCESS_ADMINISTRATOR, uid(11))
    # Through a role-assignable group:
    admins = tenant.add_group("User admins", [uid(13)])
    tenant.assign_role(USER_ADMINISTRATOR, admins.id, principal_type="group")
    # Eligible in PIM, not activated; and eligible through a group:
    tenant.assign_role(roles.GLOBAL_ADMINISTRATOR.template_id, uid(14), eligible=True)
    on_call = tenant.add_group("Security on call", [uid(16)])
    tenant.assign_role(SECURITY_ADMINISTRATOR, on_call.id, principal_type="group", eligible=True)
    # Over an administrative unit only:
    tenant.assign_role(HELPDESK_ADMINISTRATOR, uid(15), directory_scope_id=AN_ADMINISTRATIVE_UNIT)

    directory_sync(full=True)

    protected = [10, 11, 13, 14, 15, 16]
    assert all(cached(graph_mode, index).holds_admin_role for index in protected)
    helpdesk = cached(graph_mode, 1)
    targets = DirectoryUser.objects.filter(
        object_id__in=[tenant.user_id_for(i) for i in [*protected, 17]]
    )
    outcome = mfa_reregistration_require(
        users=targets, context=ChangeContext(actor=helpdesk, source=AuditSource.PAGE)
    )
    skipped = {item.user_principal_name for item in outcome.skipped}
    assert skipped == {tenant.user_at(i).user_principal_name for i in protected}
    assert [item.user_principal_name for item in outcome.changed] == [
        tenant.user_at(17).user_principal_name
    ]
    # What the cache shows: the role itself where it stands, "eligible or scoped" where not.
    assert set(cached(graph_mode, 13).roles.values_list("template_id", flat=True)) == {
        USER_ADMINISTRATOR
    }
    eligible_ga = DirectoryRole.objects.get(
        template_id=roles.limited_role_id(roles.GLOBAL_ADMINISTRATOR.template_id)
    )
    assert list(eligible_ga.members.all()) == [cached(graph_mode, 14)]
    assert eligible_ga.label == "Global Administrator (eligible or scoped)"


def test_a_role_held_through_a_group_gives_what_the_role_may_do_at_sign_in(
    graph_mode: GraphEmulator, client: Client
) -> None:
    tenant = graph_mode.tenant
    person = tenant.user_at(20)
    group = tenant.add_group("Helpdesk", [person.id])
    tenant.assign_role(
        roles.AUTHENTICATION_ADMINISTRATOR.template_id, group.id, principal_type="group"
    )

    answer = client.post(
        reverse("entra:callback"), start(client, graph_mode, person.user_principal_name)
    )

    assert answer.status_code == 303
    assert signed_in_user(client).capabilities == roles.capabilities_for(
        {roles.AUTHENTICATION_ADMINISTRATOR.template_id}
    )


def test_an_eligible_role_not_activated_gives_nothing_but_is_remembered(
    graph_mode: GraphEmulator, client: Client, settings: Any
) -> None:
    tenant = graph_mode.tenant
    person = tenant.user_at(21)
    tenant.assign_role(roles.GLOBAL_ADMINISTRATOR.template_id, person.id, eligible=True)

    answer = client.post(
        reverse("entra:callback"), start(client, graph_mode, person.user_principal_name)
    )

    assert answer.status_code == 403  # activate the role in PIM first
    user = DirectoryUser.objects.get(object_id=person.id)
    assert user.holds_admin_role and user.capabilities == frozenset()
