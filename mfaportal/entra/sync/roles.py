"""The roles stage: who holds each built-in admin role, tenant-wide."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction

from mfaportal.core.roles import BUILT_IN_ROLES
from mfaportal.directory.cache import object_id_parse, role_members_set
from mfaportal.entra.sync.status import Run
from mfaportal.entra.sync.users import TENANT_WIDE_SCOPE
from mfaportal.graph import GraphForbidden, RoleAssignment, bounded_map

USER_TYPE = "#microsoft.graph.user"


def _user_principals(assignments: Iterable[RoleAssignment]) -> set[uuid.UUID]:
    """Users holding the role tenant-wide (groups, apps and scoped assignments left out)."""
    found = set()
    for assignment in assignments:
        if assignment.principal_type not in (None, USER_TYPE):
            continue
        if (assignment.directory_scope_id or TENANT_WIDE_SCOPE) != TENANT_WIDE_SCOPE:
            continue
        object_id = object_id_parse(assignment.principal_id)
        if object_id is not None:
            found.add(object_id)
    return found


def roles_stage(run: Run) -> None:
    run.report("roles", 0, len(BUILT_IN_ROLES), force=True)
    done = 0
    for template_id, answer in bounded_map(
        run.client.role_assignments,
        [role.template_id for role in BUILT_IN_ROLES],
        workers=run.client.config.concurrency,
    ):
        done += 1
        if isinstance(answer, GraphForbidden):
            run.problem("roles", answer)
            continue
        if isinstance(answer, BaseException):
            raise answer
        with transaction.atomic():
            held = role_members_set(template_id=template_id, object_ids=_user_principals(answer))
        run.result.role_assignments += held
        run.report("roles", done, len(BUILT_IN_ROLES))
