"""The signed-in person, read in one query per request (the AUTHENTICATION_BACKENDS entry).

Django's ``ModelBackend`` reads the user, and the portal then read their roles, the View
dropdown's roles and whether they have background updates, each in a query of its own
(issue 15). Here one query brings the user row with all three, as subqueries.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db.models import (
    Aggregate,
    Case,
    Exists,
    OuterRef,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.utils import timezone

from mfaportal.admin_portal.models import BulkJob
from mfaportal.core.prepared import Prepared, prepared_rows
from mfaportal.directory.models import DirectoryRole, DirectoryUser, holds_any_role

# A background update stays listed on the users page for a day (admin_portal.views.users).
RECENT_JOBS_SINCE = timedelta(days=1)


class JoinedText(Aggregate):
    """The group's values as one comma-separated text (SQLite's ``GROUP_CONCAT``,
    PostgreSQL's ``STRING_AGG``); NULL for no rows. For values that hold no comma."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(distinct)s%(expressions)s)"
    allow_distinct = True
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(distinct)s(%(expressions)s)::text, ',')",
            **extra,
        )


def split_joined(joined: str | None) -> set[str]:
    return set(joined.split(",")) if joined else set()


def _signed_in_user_query(user_id: Any, since: datetime) -> QuerySet[DirectoryUser]:
    through: Any = DirectoryUser.roles.through  # the stubs cannot follow its annotations
    own_roles = (
        through.objects.filter(directoryuser_id=OuterRef("pk"))
        .values("directoryuser_id")
        .annotate(joined=JoinedText("directoryrole__template_id"))
        .values("joined")
    )
    # Each role asked whether it has a member (one probe of the memberships' role index per
    # role), not every membership read and grouped: at 100k users that read cost 1.4 ms of
    # every admin page on PostgreSQL (issue 15). Asked inside the aggregate, not as a WHERE
    # EXISTS, which PostgreSQL may answer by hashing every membership instead.
    has_member = Exists(through.objects.filter(directoryrole_id=OuterRef("pk")))
    held_roles = (
        DirectoryRole.objects.order_by()
        .annotate(whole_table=Value(1))
        .values("whole_table")  # no GROUP BY: one text for the whole table
        .annotate(joined=JoinedText(Case(When(has_member, then="template_id"))))
        .values("joined")
    )
    recent_jobs = BulkJob.objects.filter(
        created_by=OuterRef("pk"), created_at__gte=since, background=True
    )
    admin = holds_any_role()
    return DirectoryUser.objects.filter(pk=user_id).annotate(
        own_role_ids=Subquery(own_roles),
        # Only an admin pays for these; CASE leaves them unevaluated for anyone else.
        held_role_ids=Case(When(admin, then=Subquery(held_roles))),
        has_recent_jobs=Case(When(admin, then=Exists(recent_jobs)), default=False),
    )


# Compiled once per database (core.prepared): these stand in for each request's values.
_SIGNED_IN = Prepared(
    _signed_in_user_query, (-8_675_309, datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC))
)


def signed_in_user_get(user_id: Any) -> DirectoryUser | None:
    """The user with their role template ids, and, for an admin, the template ids of every
    role somebody holds (the View dropdown) and whether they started a background update in
    the last day (the users page's list of them): ``own_role_ids``, ``held_role_ids`` and
    ``has_recent_jobs``. None for an id that names nobody."""
    try:
        pk = DirectoryUser._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    found = prepared_rows(_SIGNED_IN, DirectoryUser, (pk, timezone.now() - RECENT_JOBS_SINCE))
    if not found:
        return None
    user: DirectoryUser = found[0]
    user.has_recent_jobs = bool(user.has_recent_jobs)  # type: ignore[attr-defined]
    return user


class DirectoryUserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` is ``signed_in_user_get``: one query per request
    for the person signed in, their roles and what their pages need of the directory."""

    def get_user(self, user_id: Any) -> DirectoryUser | None:
        user = signed_in_user_get(user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        user._role_template_ids = split_joined(user.own_role_ids)  # type: ignore[attr-defined]
        return user
