"""The users stage: every user through ``/users/delta`` (full) or what changed since the
stored deltaLink (delta), written page group by page group; and one user read at staff
sign-in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from mfaportal.core.roles import LIMITED_ROLES_BY_ID
from mfaportal.directory.cache import (
    UserRecord,
    object_id_parse,
    user_roles_set,
    users_apply,
    users_remove_unlisted,
)
from mfaportal.directory.models import DirectoryUser
from mfaportal.entra.mapping import user_record_from_graph
from mfaportal.entra.sync.roles import user_roles_read
from mfaportal.entra.sync.status import RESUME_ATTEMPTS, Run, resumable
from mfaportal.graph import DeltaPage, GraphClient, GraphError, GraphNotFound, prefetched

# Users per transaction: SQLite pays for every commit, which writes every page the
# transaction changed in the users table's indexes to the WAL (5,000 rather than 2,000 took
# a fifth off the time of inserting 100k users; the write lock is held a few tenths of a
# second).
DB_CHUNK = 5000
# Delta pages read ahead while a group is written: a group's worth and more (Graph's delta
# pages hold about 100 users), so the reader is not stopped while one is written.
PAGES_AHEAD = 60


def _regrouped(pages: Iterable[DeltaPage], users: int) -> Iterator[list[DeltaPage]]:
    """Consecutive pages grouped until they hold at least ``users`` users."""
    group: list[DeltaPage] = []
    count = 0
    for page in pages:
        group.append(page)
        count += len(page.users)
        if count >= users:
            yield group
            group, count = [], 0
    if group:
        yield group


def users_stage(run: Run, delta_link: str, changed: list[str] | None) -> str:
    """Read the users; ``changed`` (delta runs) collects the ids Graph reported. Returns
    the new deltaLink."""
    new_link = ""
    seen = 0
    result = run.result
    run.report("users", 0, None, force=True)
    # Where to go on from: the link of the page after the last one written.
    position: str | None = delta_link or None
    resumes = 0
    # Users listed exactly as cached, so not rewritten: they stay through the removal below.
    unchanged: list[int] = []
    while True:
        try:
            pages = prefetched(run.client.users_delta(position), depth=PAGES_AHEAD)
            for group in _regrouped(pages, DB_CHUNK):
                users = [user for page in group for user in page.users]
                with transaction.atomic():
                    outcome = users_apply(
                        [user_record_from_graph(user) for user in users], synced_at=run.synced_at
                    )
                result.users_added += outcome.added
                result.users_updated += outcome.updated
                result.users_removed += outcome.removed
                unchanged += outcome.unchanged
                if outcome.skipped:
                    result.problems[("users", "incomplete record")] += outcome.skipped
                if changed is not None:
                    changed.extend(user.id for user in users if not user.removed)
                seen += len(users)
                result.users_seen = seen
                run.report("users", seen, None)
                new_link = group[-1].delta_link or new_link
                position = group[-1].next_link or position
            break
        except GraphError as error:
            # A page Graph could not answer now: go on from the last page written, later.
            if not resumable(error) or resumes >= RESUME_ATTEMPTS:
                raise
            resumes += 1
            result.notes.append(
                f"reading users stopped after {seen:,} ({error.status or '-'} {error.code}); "
                "went on from there"
            )
            run.pause(error)
    if not new_link:
        raise GraphError(
            None, "noDeltaLink", "the last page of /users/delta carried no @odata.deltaLink"
        )
    if changed is None:
        # After a full listing, users Graph did not list are gone from the directory.
        if seen == 0:
            # An empty answer is far likelier a fault than a tenant without users.
            result.notes.append("Graph listed no users: nothing was removed from the cache")
        else:
            result.users_removed += users_remove_unlisted(
                listed_since=run.synced_at, listed=unchanged
            )
    return new_link


def user_refresh(*, client: GraphClient, object_id: str) -> DirectoryUser | None:
    """Read one user and their admin roles from Graph into the cache (staff sign-in): held
    directly or through role-assignable groups, and those held only as eligible or scoped.

    Returns None when Graph no longer has the user (the cached row is removed too).
    """
    oid = object_id_parse(object_id)
    if oid is None:
        return None
    try:
        graph_user = client.user_get(str(oid))
    except GraphNotFound:
        with transaction.atomic():
            users_apply([UserRecord(str(oid), removed=True)], synced_at=timezone.now())
        return None
    held, complete = user_roles_read(client, str(oid))
    with transaction.atomic():
        users_apply([user_record_from_graph(graph_user)], synced_at=timezone.now())
        user = DirectoryUser.objects.filter(object_id=oid).first()
        if user is None:
            return None
        if not complete:
            # Eligibilities could not be read: the eligible roles the cache knew stay.
            held |= {
                template_id
                for template_id in user.roles.values_list("template_id", flat=True)
                if template_id in LIMITED_ROLES_BY_ID
            }
        user_roles_set(user=user, template_ids=held)
    user.refresh_from_db()
    return user
