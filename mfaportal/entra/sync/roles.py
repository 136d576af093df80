"""The roles stage: who holds each built-in admin role, however they hold it.

Entra lets a user hold a role directly, as a member of a role-assignable group, over an
administrative unit only, or as eligible in Privileged Identity Management (activated when
needed). Entra protects every one of them from those who may act only on non-admins, so the
cache knows them all: a role held tenant-wide and active (directly or through a group) is
the role itself, which may give a portal role; one held only as eligible or over an
administrative unit is its "eligible or scoped" counterpart (``core.roles.limited_role_id``),
which protects the holder and gives no portal role.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

from mfaportal.core.roles import BUILT_IN_ROLES, ROLES_BY_TEMPLATE_ID, limited_role_id
from mfaportal.directory.cache import object_id_parse, role_members_set
from mfaportal.entra.sync.status import RESUME_ATTEMPTS, Run, resumable
from mfaportal.graph import (
    GraphBadRequest,
    GraphClient,
    GraphError,
    GraphForbidden,
    RoleAssignment,
    bounded_map,
)

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
TENANT_WIDE_SCOPE = "/"


@dataclass
class Holders:
    """The users holding one role: tenant-wide and active, or only eligible or scoped."""

    standing: set[uuid.UUID] = field(default_factory=set)
    limited: set[uuid.UUID] = field(default_factory=set)
    # False when the eligibilities could not be read: the cached ones are kept.
    eligibilities_read: bool = True
    problems: list[GraphError] = field(default_factory=list)


class GroupMembers:
    """Members of role-assignable groups, each group read once per run."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._members: dict[str, list[str]] = {}

    def of(self, group_id: str) -> list[str]:
        with self._lock:
            known = self._members.get(group_id)
        if known is None:
            known = self.client.group_member_ids(group_id)
            with self._lock:
                self._members[group_id] = known
        return known


def _users_of(assignment: RoleAssignment, groups: GroupMembers) -> set[uuid.UUID]:
    """The users a role record reaches: its user, or every member of its group."""
    if assignment.principal_type == GROUP_TYPE:
        ids: Iterable[str] = groups.of(assignment.principal_id)
    elif assignment.principal_type in (None, USER_TYPE):
        ids = [assignment.principal_id]
    else:
        return set()  # an app or a service principal: not a user of the portal
    return {oid for value in ids if (oid := object_id_parse(value))}


def _tenant_wide(assignment: RoleAssignment) -> bool:
    return (assignment.directory_scope_id or TENANT_WIDE_SCOPE) == TENANT_WIDE_SCOPE


def holders_read(client: GraphClient, template_id: str, groups: GroupMembers) -> Holders:
    """Read who holds one role (Graph calls only: it runs on a worker thread)."""
    holders = Holders()
    for assignment in client.role_assignments(template_id):
        users = _users_of(assignment, groups)
        (holders.standing if _tenant_wide(assignment) else holders.limited).update(users)
    try:
        eligible = client.role_eligibilities(template_id)
    except (GraphForbidden, GraphBadRequest) as error:
        # No permission to read PIM, or a tenant without Entra ID P2: nothing to read.
        holders.eligibilities_read = False
        holders.problems.append(error)
        eligible = []
    for assignment in eligible:
        holders.limited.update(_users_of(assignment, groups))
    holders.limited -= holders.standing
    return holders


def roles_stage(run: Run) -> None:
    roles = [role.template_id for role in BUILT_IN_ROLES]
    run.report("roles", 0, len(roles), force=True)
    groups = GroupMembers(run.client)
    done = 0
    pending = roles
    error: BaseException | None = None
    for attempt in range(RESUME_ATTEMPTS + 1):
        if attempt:
            run.pause(error)
        failed: list[str] = []
        for template_id, answer in bounded_map(
            lambda template_id: holders_read(run.client, template_id, groups),
            pending,
            workers=run.client.config.concurrency,
        ):
            if isinstance(answer, GraphForbidden):
                run.problem("roles", answer)
                done += 1
                continue
            if isinstance(answer, BaseException) and resumable(answer):
                failed.append(template_id)
                error = answer
                continue
            if isinstance(answer, BaseException):
                raise answer
            for problem in answer.problems:
                run.problem("roles", problem)
            with transaction.atomic():
                run.result.role_assignments += role_members_set(
                    template_id=template_id, object_ids=answer.standing
                )
                if answer.eligibilities_read:
                    run.result.role_assignments += role_members_set(
                        template_id=limited_role_id(template_id), object_ids=answer.limited
                    )
            done += 1
            run.report("roles", done, len(roles))
        pending = failed
        if not pending:
            break
    if pending and isinstance(error, GraphError):
        # The holders Graph could not tell keep the roles the cache knew: never less guarded.
        run.problems("roles", error, len(pending))


def user_roles_read(client: GraphClient, object_id: str) -> tuple[set[str], bool]:
    """One user's roles, as the cache keeps them (``limited_role_id`` for those held only as
    eligible or scoped), read at staff sign-in; and whether the eligibilities were read."""
    principals = [object_id, *client.role_assignable_groups_of(object_id)]
    held: set[str] = set()
    limited: set[str] = set()
    for principal in principals:
        for assignment in client.roles_of(principal):
            if assignment.role_definition_id in ROLES_BY_TEMPLATE_ID:
                (held if _tenant_wide(assignment) else limited).add(assignment.role_definition_id)
    complete = True
    for principal in principals:
        try:
            eligible = client.roles_of(principal, eligible=True)
        except (GraphForbidden, GraphBadRequest):
            complete = False
            break
        limited.update(
            a.role_definition_id for a in eligible if a.role_definition_id in ROLES_BY_TEMPLATE_ID
        )
    return held | {limited_role_id(t) for t in limited - held}, complete
