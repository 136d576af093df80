"""Writes of the cached tenant from the directory of record (graph mode's sync and its staff
sign-in): users, their admin roles, removals.

The sync reads Microsoft Graph; this module is where what it read becomes rows. Records use
the directory's own terms (``UserRecord``), so this app knows nothing of Graph's shapes.
Directory data is untrusted input: odd or missing values are skipped or kept as they were,
never guessed.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Lower

from mfaportal.core.bulk_sql import bulk_insert, one_of
from mfaportal.core.chunks import chunked
from mfaportal.core.roles import BUILT_IN_ROLES, LIMITED_DISPLAY_SUFFIX, LIMITED_ROLES_BY_ID
from mfaportal.directory.models import DirectoryRole, DirectoryUser


@dataclass(frozen=True)
class UserRecord:
    """One user as the directory of record reports them. ``None``: not reported this time
    (a delta record leaves out a property that was never set), so it is unknown: the cached
    value stays, and a user the cache does not know yet is not taken to be licensed or
    allowed to sign in on the strength of a missing property."""

    object_id: str
    removed: bool = False
    user_principal_name: str | None = None
    display_name: str | None = None
    mail: str | None = None
    account_enabled: bool | None = None
    is_licensed: bool | None = None


@dataclass
class UsersApplied:
    added: int = 0
    # Cached users whose record differed from the cache (rewritten).
    updated: int = 0
    removed: int = 0
    # Records that named a user the cache does not have, without enough to add them.
    skipped: int = 0
    # Cached users listed exactly as the cache holds them: left as they are, not rewritten
    # (on a later full sync nearly every user; see ``users_remove_unlisted``).
    unchanged: list[int] = field(default_factory=list)


def object_id_parse(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def _stored_object_id(value: object) -> uuid.UUID:
    """The column's value as the database gives it: a UUID (PostgreSQL) or SQLite's 32 hex
    digits."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _unusable_passwords(count: int) -> Iterator[str]:
    """``count`` unusable passwords, each with its own random part.

    The portal never checks a password in graph mode; the random part keeps every user's
    session hash distinct (django's make_password(None) is 10x slower at 100k). The random
    bytes are read at once: one system call per user cost a first full sync half a second.
    """
    size = 30
    block = secrets.token_bytes(size * count)
    for start in range(0, size * count, size):
        text = base64.urlsafe_b64encode(block[start : start + size]).decode("ascii")
        yield UNUSABLE_PASSWORD_PREFIX + text


# What a record sets on a cached user, in the order of the cached rows' columns below.
_CACHED_COLUMNS = (
    "pk",
    "object_id",
    "user_principal_name",
    "display_name",
    "mail",
    "account_enabled",
    "is_licensed",
)


def _cached_users(object_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[Any, ...]]:
    """The cached users with these object ids: ``(pk, upn, display name, mail, enabled,
    licensed)`` by object id, as the database stores them (no model fields' converters: a
    full sync asks this for every user)."""
    query = DirectoryUser.objects.filter(
        one_of("object_id", object_ids, models.UUIDField())
    ).values_list(*_CACHED_COLUMNS)
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            _stored_object_id(object_id): (pk, *values)
            for pk, object_id, *values in cursor.fetchall()
        }


def users_apply(records: Sequence[UserRecord], *, synced_at: datetime) -> UsersApplied:
    """Write one page of user records into the cache (call inside a transaction).

    Removed users leave the cache. A user principal name held in the cache by another
    object id belongs to someone renamed or deleted since: that row is parked under a unique
    placeholder until its own record (in this page or a later one) names it again. A cached
    user whose record holds nothing new is not written at all (``UsersApplied.unchanged``):
    its ``synced_at`` stays as it was.
    """
    outcome = UsersApplied()
    removed_ids = [oid for r in records if r.removed and (oid := object_id_parse(r.object_id))]
    if removed_ids:
        deleted = DirectoryUser.objects.filter(object_id__in=removed_ids).delete()[1]
        outcome.removed = deleted.get(DirectoryUser._meta.label, 0)
    present: dict[uuid.UUID, UserRecord] = {}
    for record in records:
        object_id = object_id_parse(record.object_id)
        if record.removed or object_id is None:
            continue
        present[object_id] = record  # a user listed twice: the later record wins
    if not present:
        return outcome
    existing = _cached_users(present)
    passwords = _unusable_passwords(sum(1 for oid in present if oid not in existing))
    rows = []
    written: dict[uuid.UUID, UserRecord] = {}
    for object_id, record in present.items():
        if not record.user_principal_name:
            continue
        cached = existing.get(object_id)
        # Unknown (left out of the record): what the cache holds, or for a user it does not
        # know, not enabled and not licensed (a licence never assigned is left out of delta).
        cached_enabled, cached_licensed = (False, False) if cached is None else cached[4:6]
        values = (
            record.user_principal_name[:255],
            (record.display_name or "")[:256],
            (record.mail or "")[:320],
            cached_enabled if record.account_enabled is None else bool(record.account_enabled),
            cached_licensed if record.is_licensed is None else bool(record.is_licensed),
        )
        if cached is not None and _same(cached[1:], values):
            outcome.unchanged.append(cached[0])
            continue
        written[object_id] = record
        rows.append(
            (
                object_id,
                *values,
                synced_at,
                synced_at,
                next(passwords) if cached is None else UNUSABLE_PASSWORD_PREFIX,
            )
        )
        if cached is None:
            outcome.added += 1
        else:
            outcome.updated += 1
    by_upn = {(r.user_principal_name or "").lower(): oid for oid, r in written.items()}
    if by_upn:
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
    bulk_insert(
        DirectoryUser,
        fields=[*_CACHED_COLUMNS[1:], "synced_at", "created_at", "password"],
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
    for object_id, record in present.items():
        if record.user_principal_name:
            continue
        if object_id not in existing:
            outcome.skipped += 1
            continue
        fields: dict[str, Any] = {"synced_at": synced_at}
        if record.display_name is not None:
            fields["display_name"] = record.display_name[:256]
        if record.mail is not None:
            fields["mail"] = record.mail[:320]
        if record.account_enabled is not None:
            fields["account_enabled"] = record.account_enabled
        if record.is_licensed is not None:
            fields["is_licensed"] = record.is_licensed
        DirectoryUser.objects.filter(object_id=object_id).update(**fields)
        outcome.updated += 1
    return outcome


def _same(cached: Sequence[Any], values: Sequence[Any]) -> bool:
    """The cached row holds these values (SQLite gives booleans back as 0 and 1, which
    compare equal to False and True)."""
    return tuple(cached) == tuple(values)


def users_remove_unlisted(*, listed_since: datetime, listed: Iterable[int] = ()) -> int:
    """After a full listing: users neither written since ``listed_since`` nor ``listed``
    (the ones listed unchanged, which were not rewritten) have left the directory."""
    kept = set(listed)
    stale = DirectoryUser.objects.filter(Q(synced_at__lt=listed_since) | Q(synced_at__isnull=True))
    gone = [pk for pk in stale.values_list("pk", flat=True).iterator() if pk not in kept]
    removed = 0
    for chunk in chunked(gone):
        deleted = DirectoryUser.objects.filter(pk__in=chunk).delete()[1]
        removed += deleted.get(DirectoryUser._meta.label, 0)
    return removed


def roles_known() -> dict[str, DirectoryRole]:
    """Every directory role the cache knows, the built-in ones (and each one held only as
    eligible or scoped) created where missing."""
    roles = {role.template_id: role for role in DirectoryRole.objects.all()}
    wanted = [(role.template_id, role.display_name) for role in BUILT_IN_ROLES] + [
        (limited_id, role.display_name + LIMITED_DISPLAY_SUFFIX)
        for limited_id, role in LIMITED_ROLES_BY_ID.items()
    ]
    missing = [(template_id, name) for template_id, name in wanted if template_id not in roles]
    if missing:
        DirectoryRole.objects.bulk_create(
            [DirectoryRole(template_id=t, display_name=name) for t, name in missing],
            ignore_conflicts=True,
        )
        roles = {role.template_id: role for role in DirectoryRole.objects.all()}
    return roles


def role_members_set(*, template_id: str, object_ids: Iterable[uuid.UUID]) -> int:
    """The cached users holding this role are exactly these (call inside a transaction);
    returns how many cached users hold it."""
    role = roles_known()[template_id]
    through = DirectoryUser.roles.through
    wanted: set[int] = set()
    for principals in chunked(object_ids):
        wanted.update(
            DirectoryUser.objects.filter(object_id__in=principals).values_list("pk", flat=True)
        )
    current = set(
        through.objects.filter(directoryrole_id=role.pk).values_list("directoryuser_id", flat=True)
    )
    for gone in chunked(current - wanted):
        through.objects.filter(directoryrole_id=role.pk, directoryuser_id__in=gone).delete()
    through.objects.bulk_create(
        [through(directoryuser_id=pk, directoryrole_id=role.pk) for pk in wanted - current],
        ignore_conflicts=True,
    )
    return len(wanted)


def user_roles_set(*, user: DirectoryUser, template_ids: Iterable[str]) -> None:
    """One user's admin roles, as the directory of record has them now."""
    roles = roles_known()
    user.roles.set([roles[template_id] for template_id in template_ids if template_id in roles])
