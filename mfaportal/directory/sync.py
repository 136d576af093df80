"""Sync the cache from Microsoft Graph: users, admin roles, per-user MFA state, methods.

A **full** sync reads every user through ``/users/delta`` without a token (which also yields
the first deltaLink), removes cached users Graph no longer lists, reads the admin roles, every
user's per-user MFA state (beta ``requirements`` through ``$batch``) and the registration
report, reading a user's methods only where the report says they may have changed.

A **delta** sync follows the stored deltaLink: added, changed and removed users, the admin
roles, and state and methods of the users that changed. Graph does not report per-user MFA
state or method changes through ``/users/delta``, so changes made outside the portal reach
the cache with the next full sync (schedule one nightly).

Everything is streamed: each page of users or of the report is written as it arrives and
per-user calls run a few batches at a time (``MFAPORTAL_GRAPH_CONCURRENCY``), so memory
stays flat whatever the size of the tenant. The deltaLink is stored only after every page
and every stage has been applied; a run that fails leaves the previous one in place.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models, reset_queries, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import pgettext_lazy

from mfaportal.core.audit import AuditEntry, ChangeContext, audit_record_many
from mfaportal.core.models import AuditSource
from mfaportal.core.roles import BUILT_IN_ROLES, ROLES_BY_TEMPLATE_ID
from mfaportal.directory.bulk_sql import bulk_insert, bulk_set, one_of
from mfaportal.directory.graph_access import (
    BATCH_SIZE,
    bounded_map,
    chunked,
    graph_client,
    graph_concurrency,
    prefetched,
)
from mfaportal.directory.mapping import (
    CachedMethod,
    cached_method_of,
    default_method_from_graph,
    kinds_from_registered,
    methods_from_graph,
    state_from_graph,
)
from mfaportal.directory.models import (
    DirectoryRole,
    DirectorySyncState,
    DirectoryUser,
    OutboxChange,
)
from mfaportal.graph import (
    AuthMethod,
    DeltaPage,
    DeltaTokenExpired,
    GraphClient,
    GraphError,
    GraphForbidden,
    GraphNotFound,
    GraphUser,
    PerUserResult,
    RegistrationDetails,
    RoleAssignment,
)
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod

logger = logging.getLogger(__name__)

SYNC_CONTEXT = ChangeContext(actor=None, source=AuditSource.SYNC)
# A run whose heartbeat is older than this died (killed worker, lost machine): take over.
STALE_AFTER = timedelta(minutes=15)
HEARTBEAT_SECONDS = 1.0
# Users per database round trip when streaming the cache or writing answers.
DB_CHUNK = 2000
USER_TYPE = "#microsoft.graph.user"
TENANT_WIDE_SCOPE = "/"

Progress = Callable[[str, int, int | None], None]

# What a running sync is reading ("Reading users…") and what kind of sync ran, as shown.
STAGE_LABELS = {
    "users": pgettext_lazy("sync stage", "users"),
    "roles": pgettext_lazy("sync stage", "admin roles"),
    "mfa_states": pgettext_lazy("sync stage", "MFA state"),
    "methods": pgettext_lazy("sync stage", "methods"),
}
KIND_LABELS = {
    "full": pgettext_lazy("sync kind", "full"),
    "delta": pgettext_lazy("sync kind", "delta"),
}


class SyncBusy(Exception):
    """Another sync holds the lock."""


class SyncFailed(Exception):
    """The sync stopped; the message is what the sync status shows."""


@dataclass
class SyncResult:
    kind: str
    seconds: float = 0.0
    users_seen: int = 0
    users_added: int = 0
    users_updated: int = 0
    users_removed: int = 0
    role_assignments: int = 0
    states_read: int = 0
    states_changed: int = 0
    methods_read: int = 0
    methods_changed: int = 0
    defaults_changed: int = 0
    # Per-item problems that did not stop the run, by stage and Graph error code.
    problems: Counter[tuple[str, str]] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        found = [
            f"{STAGE_LABELS.get(stage, stage)}: {code} for {count:,}"
            for (stage, code), count in sorted(self.problems.items())
        ]
        return self.notes + found

    def counts(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seconds": round(self.seconds, 1),
            "users_seen": self.users_seen,
            "users_added": self.users_added,
            "users_updated": self.users_updated,
            "users_removed": self.users_removed,
            "role_assignments": self.role_assignments,
            "states_read": self.states_read,
            "states_changed": self.states_changed,
            "methods_read": self.methods_read,
            "methods_changed": self.methods_changed,
            "defaults_changed": self.defaults_changed,
        }

    def summary(self) -> str:
        warnings = self.warnings()
        return (
            f"{self.kind.capitalize()} sync finished in {self.seconds:.1f} s: "
            f"{self.users_seen:,} users read ({self.users_added:,} added, "
            f"{self.users_updated:,} updated, {self.users_removed:,} removed), "
            f"{self.role_assignments:,} admin role assignments, "
            f"MFA state read for {self.states_read:,} users ({self.states_changed:,} changed), "
            f"methods read for {self.methods_read:,} users ({self.methods_changed:,} changed), "
            f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}."
        )


# --- the lock and the status row -------------------------------------------------------------


def _acquire(kind: str) -> bool:
    now = timezone.now()
    DirectorySyncState.load()
    taken = (
        DirectorySyncState.objects.filter(pk=1)
        .filter(Q(running_since__isnull=True) | Q(heartbeat_at__lt=now - STALE_AFTER))
        .update(
            running_since=now,
            heartbeat_at=now,
            status=DirectorySyncState.Status.RUNNING,
            run_kind=kind,
            stage="",
            progress_done=0,
            progress_total=None,
            last_started_at=now,
        )
    )
    return taken == 1


def sync_is_running() -> bool:
    state = DirectorySyncState.load()
    return state.running_since is not None and (
        state.heartbeat_at is not None and state.heartbeat_at >= timezone.now() - STALE_AFTER
    )


def directory_sync(
    *,
    full: bool = False,
    client: GraphClient | None = None,
    progress: Progress | None = None,
    requested_by: str = "",
) -> SyncResult:
    """Run a sync now (delta when a deltaLink is stored and ``full`` is not asked for).

    Raises SyncBusy when another run holds the lock and SyncFailed when Graph could not be
    read (the error is also kept in the sync status for the admin page).
    """
    stored_link = "" if full else DirectorySyncState.load().delta_link
    kind = "delta" if stored_link else "full"
    if not _acquire(kind):
        raise SyncBusy("a directory sync is already running")
    started = time.monotonic()
    result = SyncResult(kind=kind)
    try:
        run = _Run(client or graph_client(), result, progress)
        try:
            with _bulk_write_tuning():
                new_link = run.execute(stored_link)
        except DeltaTokenExpired as expired:
            logger.warning("delta token no longer valid (%s): running a full sync", expired.code)
            DirectorySyncState.objects.filter(pk=1).update(delta_link="", run_kind="full")
            result = SyncResult(kind="full")
            result.notes.append(f"the stored delta token was refused ({expired.code}): full sync")
            run = _Run(run.client, result, progress)
            with _bulk_write_tuning():
                new_link = run.execute("")
    except BaseException as error:  # the lock must not outlive the run, whatever stopped it
        result.seconds = time.monotonic() - started
        _record_failure(result, error, requested_by)
        if isinstance(error, GraphError | ValueError):
            raise SyncFailed(_failure_message(error)) from error
        raise
    result.seconds = time.monotonic() - started
    _record_success(result, new_link, requested_by)
    return result


@contextlib.contextmanager
def _bulk_write_tuning() -> Iterator[None]:
    """SQLite only: a larger page cache and fewer WAL checkpoints while a sync writes 100k
    rows into a table with a dozen indexes (measured: a third off the users stage). Both are
    settings of this connection, put back afterwards; durability is unchanged."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_size = cursor.fetchone()[0]
        cursor.execute("PRAGMA wal_autocheckpoint")
        checkpoint = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -65536")  # KiB: 64 MiB
        cursor.execute("PRAGMA wal_autocheckpoint = 20000")  # pages: about 80 MiB of WAL
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")


def _failure_message(error: BaseException) -> str:
    if isinstance(error, GraphError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _record_success(result: SyncResult, delta_link: str, requested_by: str) -> None:
    now = timezone.now()
    times = {"last_full_sync_at": now} if result.kind == "full" else {"last_delta_sync_at": now}
    with transaction.atomic():
        DirectorySyncState.objects.filter(pk=1).update(
            delta_link=delta_link,
            status=DirectorySyncState.Status.SUCCEEDED,
            running_since=None,
            stage="",
            last_finished_at=now,
            last_counts=result.counts(),
            last_warnings=result.warnings(),
            last_error="",
            **times,
        )
        audit_record_many(
            SYNC_CONTEXT,
            [
                AuditEntry(
                    "directory.synced",
                    after=result.summary(),
                    detail={**result.counts(), "requested_by": requested_by},
                )
            ],
        )


def _record_failure(result: SyncResult, error: BaseException, requested_by: str) -> None:
    now = timezone.now()
    message = _failure_message(error)
    logger.error("directory sync failed: %s", message, exc_info=not isinstance(error, GraphError))
    DirectorySyncState.objects.filter(pk=1).update(
        status=DirectorySyncState.Status.FAILED,
        running_since=None,
        last_finished_at=now,
        last_counts=result.counts(),
        last_warnings=result.warnings(),
        last_error=message,
        last_error_at=now,
    )
    audit_record_many(
        SYNC_CONTEXT,
        [
            AuditEntry(
                "directory.sync_failed",
                after=message[:255],
                detail={**result.counts(), "error": message, "requested_by": requested_by},
            )
        ],
    )


# --- writing users ---------------------------------------------------------------------------


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None


def _unusable_password() -> str:
    # The portal never checks a password in graph mode; the random part keeps every
    # user's session hash distinct (django's make_password(None) is 10x slower at 100k).
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


@dataclass
class UserPageResult:
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0


def users_apply(users: Sequence[GraphUser], *, synced_at: datetime) -> UserPageResult:
    """Write one page of Graph users into the cache (call inside a transaction).

    ``@removed`` users leave the cache. A user principal name held in the cache by another
    object id belongs to someone renamed or deleted since: that row is parked under a unique
    placeholder until its own record (in this page or a later one) names it again.
    """
    outcome = UserPageResult()
    removed_ids = [oid for user in users if user.removed and (oid := _uuid(user.id))]
    if removed_ids:
        deleted = DirectoryUser.objects.filter(object_id__in=removed_ids).delete()[1]
        outcome.removed = deleted.get(DirectoryUser._meta.label, 0)
    present: dict[uuid.UUID, GraphUser] = {}
    for user in users:
        object_id = _uuid(user.id)
        if user.removed or object_id is None:
            continue
        present[object_id] = user  # a user listed twice: the later record wins
    if not present:
        return outcome
    existing = set(
        DirectoryUser.objects.filter(one_of("object_id", present, models.UUIDField())).values_list(
            "object_id", flat=True
        )
    )
    complete = {oid: u for oid, u in present.items() if u.user_principal_name}
    by_upn = {(u.user_principal_name or "").lower(): oid for oid, u in complete.items()}
    holders = (
        DirectoryUser.objects.alias(upn_lower=Lower("user_principal_name"))
        .filter(one_of("upn_lower", by_upn, models.TextField()))
        .values_list("pk", "object_id", "user_principal_name")
    )
    for pk, object_id, upn in list(holders):
        if by_upn.get(upn.lower()) != object_id:
            DirectoryUser.objects.filter(pk=pk).update(
                user_principal_name=f"{object_id}@renamed.invalid"
            )
    rows = []
    for object_id, user in complete.items():
        new = object_id not in existing
        rows.append(
            (
                object_id,
                (user.user_principal_name or "")[:255],
                (user.display_name or "")[:256],
                (user.mail or "")[:320],
                True if user.account_enabled is None else user.account_enabled,
                True if user.is_licensed is None else user.is_licensed,
                synced_at,
                synced_at,
                _unusable_password() if new else UNUSABLE_PASSWORD_PREFIX,
            )
        )
        if new:
            outcome.added += 1
        else:
            outcome.updated += 1
    bulk_insert(
        DirectoryUser,
        fields=[
            "object_id",
            "user_principal_name",
            "display_name",
            "mail",
            "account_enabled",
            "is_licensed",
            "synced_at",
            "created_at",
            "password",
        ],
        rows=rows,
        conflict=["object_id"],
        update=[
            "user_principal_name",
            "display_name",
            "mail",
            "account_enabled",
            "is_licensed",
            "synced_at",
        ],
    )
    # Records without a user principal name (a minimal delta answer) update what they carry.
    for object_id, user in present.items():
        if object_id in complete:
            continue
        if object_id not in existing:
            outcome.skipped += 1
            continue
        fields: dict[str, Any] = {"synced_at": synced_at}
        if user.display_name is not None:
            fields["display_name"] = user.display_name[:256]
        if user.mail is not None:
            fields["mail"] = user.mail[:320]
        if user.account_enabled is not None:
            fields["account_enabled"] = user.account_enabled
        if user.is_licensed is not None:
            fields["is_licensed"] = user.is_licensed
        DirectoryUser.objects.filter(object_id=object_id).update(**fields)
        outcome.updated += 1
    return outcome


def _role_objects() -> dict[str, DirectoryRole]:
    roles = {role.template_id: role for role in DirectoryRole.objects.all()}
    for built_in in BUILT_IN_ROLES:
        if built_in.template_id not in roles:
            roles[built_in.template_id], _created = DirectoryRole.objects.get_or_create(
                template_id=built_in.template_id,
                defaults={"display_name": built_in.display_name},
            )
    return roles


def _user_principals(assignments: Iterable[RoleAssignment]) -> set[uuid.UUID]:
    """Users holding the role tenant-wide (groups, apps and scoped assignments left out)."""
    found = set()
    for assignment in assignments:
        if assignment.principal_type not in (None, USER_TYPE):
            continue
        if (assignment.directory_scope_id or TENANT_WIDE_SCOPE) != TENANT_WIDE_SCOPE:
            continue
        object_id = _uuid(assignment.principal_id)
        if object_id is not None:
            found.add(object_id)
    return found


def user_refresh(*, client: GraphClient, object_id: str) -> DirectoryUser | None:
    """Read one user and their admin roles from Graph into the cache (staff sign-in).

    Returns None when Graph no longer has the user (the cached row is removed too).
    """
    oid = _uuid(object_id)
    if oid is None:
        return None
    try:
        graph_user = client.user_get(str(oid))
    except GraphNotFound:
        DirectoryUser.objects.filter(object_id=oid).delete()
        return None
    url = client.url(
        "/roleManagement/directory/roleAssignments",
        params={"$filter": f"principalId eq '{oid}'"},
    )
    assignments = [
        RoleAssignment.from_graph(item) for page in client.pages(url) for item in page.items
    ]
    held = {
        a.role_definition_id
        for a in assignments
        if a.role_definition_id in ROLES_BY_TEMPLATE_ID
        and (a.directory_scope_id or TENANT_WIDE_SCOPE) == TENANT_WIDE_SCOPE
    }
    with transaction.atomic():
        users_apply([graph_user], synced_at=timezone.now())
        user = DirectoryUser.objects.filter(object_id=oid).first()
        if user is None:
            return None
        roles = _role_objects()
        user.roles.set([roles[template_id] for template_id in held])
    user.refresh_from_db()
    return user


# --- a run -------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _CachedUser:
    pk: int
    object_id: str
    upn: str


_Reads = list[tuple[list[_CachedUser], "Future[list[PerUserResult[list[AuthMethod]]]]"]]


@dataclass
class _PagePlan:
    """One page of the registration report: what it changes, and its method reads."""

    by_oid: dict[uuid.UUID, RegistrationDetails]
    cached: dict[int, list[CachedMethod]]
    emptied: list[int] = field(default_factory=list)
    new_defaults: dict[int, str] = field(default_factory=dict)
    reads: _Reads = field(default_factory=list)


class _Run:
    def __init__(self, client: GraphClient, result: SyncResult, progress: Progress | None):
        self.client = client
        self.result = result
        self.progress = progress
        self.synced_at = timezone.now()
        self._last_beat = 0.0

    # --- progress ------------------------------------------------------------------------

    def report(self, stage: str, done: int, total: int | None, *, force: bool = False) -> None:
        # With DEBUG on, Django keeps every query's SQL: at 100k users that alone is
        # hundreds of megabytes. The sync never reads that log.
        reset_queries()
        if self.progress is not None:
            self.progress(stage, done, total)
        now = time.monotonic()
        if force or now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            DirectorySyncState.objects.filter(pk=1).update(
                stage=stage,
                progress_done=done,
                progress_total=total,
                heartbeat_at=timezone.now(),
            )

    def problem(self, stage: str, error: GraphError) -> None:
        self.result.problems[(stage, f"{error.status or '-'} {error.code}")] += 1

    # --- the stages ----------------------------------------------------------------------

    def execute(self, delta_link: str) -> str:
        full = not delta_link
        changed: list[str] | None = None if full else []
        new_link = self.users(delta_link, changed)
        self.roles()
        if full:
            self.mfa_states(self._all_users(), DirectoryUser.objects.count())
            self.methods_from_report()
        else:
            assert changed is not None
            users = list(self._users_by_object_id(changed))
            self.mfa_states(iter(users), len(users))
            self.methods_of(users)
        return new_link

    def users(self, delta_link: str, changed: list[str] | None) -> str:
        new_link = ""
        seen = 0
        self.report("users", 0, None, force=True)
        pages = prefetched(self.client.users_delta(delta_link or None))
        # A few small pages per transaction: SQLite pays for every commit.
        for group in _regrouped(pages, DB_CHUNK):
            users = [user for page in group for user in page.users]
            with transaction.atomic():
                outcome = users_apply(users, synced_at=self.synced_at)
            self.result.users_added += outcome.added
            self.result.users_updated += outcome.updated
            self.result.users_removed += outcome.removed
            if outcome.skipped:
                self.result.problems[("users", "incomplete record")] += outcome.skipped
            if changed is not None:
                changed.extend(user.id for user in users if not user.removed)
            seen += len(users)
            self.result.users_seen = seen
            self.report("users", seen, None)
            new_link = group[-1].delta_link or new_link
        if not new_link:
            raise GraphError(
                None, "noDeltaLink", "the last page of /users/delta carried no @odata.deltaLink"
            )
        if changed is None:
            self._remove_unlisted(seen)
        return new_link

    def _remove_unlisted(self, seen: int) -> None:
        """After a full listing, users Graph did not list are gone from the directory."""
        if seen == 0:
            # An empty answer is far likelier a fault than a tenant without users.
            self.result.notes.append("Graph listed no users: nothing was removed from the cache")
            return
        stale = DirectoryUser.objects.filter(
            Q(synced_at__lt=self.synced_at) | Q(synced_at__isnull=True)
        )
        for chunk in chunked(stale.values_list("pk", flat=True).iterator(), 500):
            deleted = DirectoryUser.objects.filter(pk__in=chunk).delete()[1]
            self.result.users_removed += deleted.get(DirectoryUser._meta.label, 0)

    def roles(self) -> None:
        self.report("roles", 0, len(BUILT_IN_ROLES), force=True)
        roles = _role_objects()
        through = DirectoryUser.roles.through
        done = 0
        for template_id, answer in bounded_map(
            self.client.role_assignments, [role.template_id for role in BUILT_IN_ROLES]
        ):
            done += 1
            if isinstance(answer, GraphForbidden):
                self.problem("roles", answer)
                continue
            if isinstance(answer, BaseException):
                raise answer
            wanted: set[int] = set()
            for principals in chunked(_user_principals(answer), 500):
                wanted.update(
                    DirectoryUser.objects.filter(object_id__in=principals).values_list(
                        "pk", flat=True
                    )
                )
            role = roles[template_id]
            with transaction.atomic():
                current = set(
                    through.objects.filter(directoryrole_id=role.pk).values_list(
                        "directoryuser_id", flat=True
                    )
                )
                for gone in chunked(current - wanted, 500):
                    through.objects.filter(
                        directoryrole_id=role.pk, directoryuser_id__in=gone
                    ).delete()
                through.objects.bulk_create(
                    [
                        through(directoryuser_id=pk, directoryrole_id=role.pk)
                        for pk in wanted - current
                    ],
                    ignore_conflicts=True,
                )
            self.result.role_assignments += len(wanted)
            self.report("roles", done, len(BUILT_IN_ROLES))

    # --- per-user MFA state ------------------------------------------------------------------

    def _users_by_object_id(self, object_ids: Sequence[str]) -> Iterator[_CachedUser]:
        wanted = [oid for value in dict.fromkeys(object_ids) if (oid := _uuid(value))]
        for chunk in chunked(wanted, 500):
            for pk, object_id, upn in DirectoryUser.objects.filter(object_id__in=chunk).values_list(
                "pk", "object_id", "user_principal_name"
            ):
                yield _CachedUser(pk, str(object_id), upn)

    def _all_users(self) -> Iterator[_CachedUser]:
        """Every cached user, streamed by primary key (keyset, never OFFSET)."""
        last = 0
        while True:
            rows = list(
                DirectoryUser.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", "object_id", "user_principal_name")[:DB_CHUNK]
            )
            if not rows:
                return
            for pk, object_id, upn in rows:
                yield _CachedUser(pk, str(object_id), upn)
            last = rows[-1][0]

    def mfa_states(self, users: Iterator[_CachedUser], total: int) -> None:
        """Per-user MFA state (beta ``requirements``), 20 users to a ``$batch``, a few
        batches in flight, answers written every couple of thousand users."""
        done = 0
        buffer: list[tuple[_CachedUser, MfaState]] = []
        self.report("mfa_states", 0, total, force=True)
        answers = bounded_map(
            lambda part: self.client.requirements_get_many([u.object_id for u in part]),
            chunked(users, BATCH_SIZE),
        )
        for chunk, answer in answers:
            if isinstance(answer, GraphForbidden):
                # One 403 for the whole batch: the permission is missing, not one user.
                self.result.problems[("mfa_states", f"403 {answer.code}")] += len(chunk)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                for user, result in zip(chunk, answer, strict=True):
                    if result.error is not None:
                        self.problem("mfa_states", result.error)
                    elif result.value is not None:
                        state = state_from_graph(result.value.per_user_mfa_state)
                        if state is not None:
                            buffer.append((user, state))
            done += len(chunk)
            if len(buffer) >= DB_CHUNK:
                self._write_states(buffer)
                buffer = []
            self.report("mfa_states", done, total)
        self._write_states(buffer)
        self.report("mfa_states", done, total, force=True)

    def _write_states(self, answers: list[tuple[_CachedUser, MfaState]]) -> None:
        if not answers:
            return
        self.result.states_read += len(answers)
        pks = {user.pk for user, _state in answers}
        with transaction.atomic():
            # An admin change on its way to Graph shows in the cache already: keep it.
            waiting = set(
                OutboxChange.objects.filter(
                    kind=OutboxChange.Kind.MFA_STATE, status__in=OutboxChange.OPEN_STATUSES
                ).values_list("user_id", flat=True)
            )
            # A full sync streams users in primary-key order: a range finds their rows
            # without a long IN list (which costs Django more than the database).
            if max(pks) - min(pks) < 4 * len(pks):
                rows = UserMfa.objects.filter(user_id__gte=min(pks), user_id__lte=max(pks))
            else:
                rows = UserMfa.objects.filter(user_id__in=pks)
            existing = {
                user_id: state
                for user_id, state in rows.values_list("user_id", "state")
                if user_id in pks
            }
            bulk_insert(
                UserMfa,
                fields=["user", "state"],
                rows=[
                    (user.pk, state)
                    for user, state in answers
                    if user.pk not in existing and user.pk not in waiting
                ],
                conflict=["user"],
            )
            changed: dict[MfaState, list[int]] = defaultdict(list)
            entries = []
            for user, state in answers:
                before = existing.get(user.pk)
                if before is None or before == state or user.pk in waiting:
                    continue
                changed[state].append(user.pk)
                entries.append(
                    AuditEntry(
                        "mfa.state",
                        user.pk,
                        user.upn,
                        before=str(MfaState(before).label),
                        after=str(state.label),
                        detail={"reason": "read from Microsoft Graph"},
                    )
                )
            now = timezone.now()
            for state, ids in changed.items():
                for part in chunked(ids, 500):
                    UserMfa.objects.filter(user_id__in=part).update(state=state, updated_at=now)
            self.result.states_changed += len(entries)
            audit_record_many(SYNC_CONTEXT, entries)

    # --- methods and default method ------------------------------------------------------------

    def methods_from_report(self) -> None:
        """The registration report for everyone, then methods only where they may differ.

        One page ahead: the methods of a page's users are read from Graph while the page
        before is written to the database."""
        total = DirectoryUser.objects.count()
        done = 0
        self.report("methods", 0, total, force=True)
        try:
            with ThreadPoolExecutor(graph_concurrency(), thread_name_prefix="graph") as pool:
                previous: _PagePlan | None = None
                for page in prefetched(self.client.registration_details()):
                    plan = self._plan_registration_page(page, pool)
                    if previous is not None:
                        self._apply_registration_page(previous)
                    previous = plan
                    done += len(page)
                    self.report("methods", done, total)
                if previous is not None:
                    self._apply_registration_page(previous)
        except GraphForbidden as error:
            self.problem("methods", error)
            self.result.notes.append(
                "the registration report was refused (AuditLog.Read.All missing?): "
                "registered methods were not read"
            )

    def _plan_registration_page(
        self, details: list[RegistrationDetails], pool: ThreadPoolExecutor
    ) -> _PagePlan:
        """What one report page changes, and the method reads it needs (started now)."""
        by_oid = {oid: d for d in details if (oid := _uuid(d.id))}
        users = {
            str(object_id): (pk, upn, stored)
            for pk, object_id, upn, stored in DirectoryUser.objects.filter(
                one_of("object_id", by_oid, models.UUIDField())
            ).values_list("pk", "object_id", "user_principal_name", "methods_report_updated")
        }
        pks = [pk for pk, _upn, _stored in users.values()]
        plan = _PagePlan(by_oid=by_oid, cached=self._cached_methods(pks))
        defaults = dict(
            UserMfa.objects.filter(one_of("user_id", pks, models.BigIntegerField())).values_list(
                "user_id", "default_method"
            )
        )
        to_read: list[_CachedUser] = []
        for oid, detail in by_oid.items():
            found = users.get(str(oid))
            if found is None:
                continue  # not in the cache (added after the users stage): next sync
            pk, upn, stored = found
            kinds = kinds_from_registered(detail.methods_registered)
            cached_kinds = {method.kind for method in plan.cached.get(pk, [])}
            if not kinds:
                if plan.cached.get(pk):
                    plan.emptied.append(pk)
            elif (detail.last_updated or "") != stored or kinds != cached_kinds:
                to_read.append(_CachedUser(pk, str(oid), upn))
            default = default_method_from_graph(
                detail.user_preferred_method_for_secondary_authentication
                or detail.default_mfa_method
            )
            if default != defaults.get(pk, ""):
                plan.new_defaults[pk] = default
        plan.reads = self._start_method_reads(pool, to_read)
        return plan

    def _apply_registration_page(self, plan: _PagePlan) -> None:
        read = self._finish_method_reads(plan.reads)
        stamps = {
            pk: plan.by_oid[uuid.UUID(object_id)].last_updated or ""
            for pk, object_id in ((u.pk, u.object_id) for chunk, _f in plan.reads for u in chunk)
            if pk in read
        }
        with transaction.atomic():
            self._write_methods(read, plan.cached, plan.emptied)
            self._write_defaults(plan.new_defaults)
            bulk_set(
                DirectoryUser,
                field="methods_report_updated",
                values=((pk, stamp[:40]) for pk, stamp in stamps.items()),
            )

    def methods_of(self, users: list[_CachedUser]) -> None:
        """Methods and preferred method of a few users, read one by one (in batches)."""
        self.report("methods", 0, len(users), force=True)
        cached = self._cached_methods([user.pk for user in users])
        read = self._read_methods(users)
        new_defaults: dict[int, str] = {}
        defaults = dict(
            UserMfa.objects.filter(user_id__in=[u.pk for u in users]).values_list(
                "user_id", "default_method"
            )
        )
        for chunk, answer in bounded_map(
            lambda part: self.client.sign_in_preferences_get_many([u.object_id for u in part]),
            chunked(users, BATCH_SIZE),
        ):
            if isinstance(answer, GraphForbidden):
                self.problem("methods", answer)
                continue
            if isinstance(answer, BaseException):
                raise answer
            for user, result in zip(chunk, answer, strict=True):
                if result.error is not None or result.value is None:
                    if result.error is not None:
                        self.problem("methods", result.error)
                    continue
                default = default_method_from_graph(
                    result.value.user_preferred_method_for_secondary_authentication
                )
                if default != defaults.get(user.pk, ""):
                    new_defaults[user.pk] = default
        with transaction.atomic():
            self._write_methods(read, cached, [])
            self._write_defaults(new_defaults)
        self.report("methods", len(users), len(users), force=True)

    def _cached_methods(self, pks: list[int]) -> dict[int, list[CachedMethod]]:
        cached: dict[int, list[CachedMethod]] = defaultdict(list)
        for chunk in chunked(pks, DB_CHUNK):
            for method in VerificationMethod.objects.filter(
                one_of("user_id", chunk, models.BigIntegerField())
            ).only("user_id", "kind", "phone_number", "extension", "app_mode", "device_name"):
                cached[method.user_id].append(cached_method_of(method))
        return cached

    def _start_method_reads(self, pool: ThreadPoolExecutor, users: list[_CachedUser]) -> _Reads:
        client = self.client
        return [
            (chunk, pool.submit(client.auth_methods_list_many, [u.object_id for u in chunk]))
            for chunk in chunked(users, BATCH_SIZE)
        ]

    def _finish_method_reads(self, reads: _Reads) -> dict[int, list[CachedMethod]]:
        read: dict[int, list[CachedMethod]] = {}
        for chunk, future in reads:
            error = future.exception()
            if isinstance(error, GraphForbidden):
                self.result.problems[("methods", f"403 {error.code}")] += len(chunk)
                continue
            if error is not None:
                raise error
            for user, result in zip(chunk, future.result(), strict=True):
                if result.error is not None:
                    self.problem("methods", result.error)
                else:
                    read[user.pk] = methods_from_graph(result.value or [])
        self.result.methods_read += len(read)
        return read

    def _read_methods(self, users: list[_CachedUser]) -> dict[int, list[CachedMethod]]:
        with ThreadPoolExecutor(graph_concurrency(), thread_name_prefix="graph") as pool:
            return self._finish_method_reads(self._start_method_reads(pool, users))

    def _write_methods(
        self,
        read: dict[int, list[CachedMethod]],
        cached: dict[int, list[CachedMethod]],
        emptied: list[int],
    ) -> None:
        def key(method: CachedMethod) -> tuple[str, ...]:
            return (method.kind, method.phone_number, method.extension, method.app_mode)

        changed = [
            pk
            for pk, methods in read.items()
            if sorted(methods, key=key) != sorted(cached.get(pk, []), key=key)
        ]
        replace = changed + emptied
        for chunk in chunked(replace, 500):
            VerificationMethod.objects.filter(user_id__in=chunk).delete()
        bulk_insert(
            VerificationMethod,
            fields=["user", "kind", "phone_number", "extension", "app_mode", "device_name"],
            rows=[
                (pk, m.kind, m.phone_number, m.extension, m.app_mode, m.device_name)
                for pk in changed
                for m in read[pk]
            ],
        )
        self.result.methods_changed += len(replace)
        # Someone asked to provide contact methods again, and they have: done.
        if not UserMfa.objects.filter(must_register=True).exists():
            return
        registered = [pk for pk, methods in read.items() if methods]
        waiting = OutboxChange.objects.filter(
            kind=OutboxChange.Kind.METHODS_DELETE, status__in=OutboxChange.OPEN_STATUSES
        )
        for chunk in chunked(registered, 500):
            UserMfa.objects.filter(user_id__in=chunk, must_register=True).exclude(
                user_id__in=waiting.filter(user_id__in=chunk).values("user_id")
            ).update(must_register=False)

    def _write_defaults(self, new_defaults: dict[int, str]) -> None:
        if not new_defaults:
            return
        bulk_insert(
            UserMfa, fields=["user"], rows=[(pk,) for pk in new_defaults], conflict=["user"]
        )
        by_value: dict[str, list[int]] = defaultdict(list)
        for pk, value in new_defaults.items():
            by_value[value].append(pk)
        for value, pks in by_value.items():
            for chunk in chunked(pks, 500):
                UserMfa.objects.filter(user_id__in=chunk).update(default_method=value)
        self.result.defaults_changed += len(new_defaults)
