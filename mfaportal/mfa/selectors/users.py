"""The users tab: the cached users with their MFA state, filtered, sorted and paged by
keyset; the same filters serve the CLI's ``--all`` and the status report."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connection, connections, router
from django.db.models import (
    BooleanField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Upper
from django.utils.translation import get_language

from mfaportal.core.params import db_id, db_text
from mfaportal.core.prepared import Prepared, like_prefix
from mfaportal.core.roles import LIMITED_ROLES_BY_ID, ROLES_BY_TEMPLATE_ID
from mfaportal.directory.models import (
    DirectoryRole,
    DirectoryUser,
    holds_any_role,
    holds_role_beyond_authentication_administrator_reach,
)
from mfaportal.mfa.models import MfaState, UserMfa, VerificationMethod

VIEW_ALLOWED = "allowed"
VIEW_BLOCKED = "blocked"
# Every user, sign-in allowed or blocked: the Active users list (not a View of the users tab).
VIEW_ALL = "all"
ROLE_VIEW_PREFIX = "role:"
STATUS_ANY = "any"
SEARCH_MAX_LENGTH = 100


@dataclass(frozen=True)
class UserFilter:
    """What the admin page's View, Multi-Factor Auth status and search boxes select."""

    view: str = VIEW_ALLOWED
    status: str = STATUS_ANY
    search: str = ""

    @classmethod
    def from_params(cls, view: str | None, status: str | None, search: str | None) -> UserFilter:
        view = (view or VIEW_ALLOWED).strip()
        status = (status or STATUS_ANY).strip().lower()
        if status != STATUS_ANY:
            try:
                status = MfaState.parse(status).name.lower()
            except ValueError:
                status = STATUS_ANY
        # Control characters never occur in names; NUL would even make PostgreSQL refuse
        # the query. Whitespace runs collapse, and the length is bounded.
        search = "".join(ch for ch in (search or "") if ch.isprintable() or ch.isspace())
        search = " ".join(search.split())[:SEARCH_MAX_LENGTH]
        view = "".join(ch for ch in view if ch.isprintable())[:100]
        return cls(view=view, status=status, search=search)

    def as_params(self) -> dict[str, str]:
        """The query string that selects the same users (defaults left out)."""
        params = {}
        if self.view != VIEW_ALLOWED:
            params["view"] = self.view
        if self.status != STATUS_ANY:
            params["status"] = self.status
        if self.search:
            params["q"] = self.search
        return params


def admin_views(held: set[str] | None = None) -> tuple[tuple[str, str], ...]:
    """The View dropdown: allowed, blocked, then one entry per admin role that has members.

    ``held``: the template ids of the roles somebody holds, when the caller has them (the
    signed-in admin's query brings them, admin_portal.backends); a role the portal knows by
    name then needs no query."""
    if held is not None and all(
        template_id in ROLES_BY_TEMPLATE_ID or template_id in LIMITED_ROLES_BY_ID
        for template_id in held
    ):
        return _known_role_views(frozenset(held), get_language())
    roles = DirectoryRole.objects.filter(members__isnull=False).distinct()
    return _views_of(roles)


def _views_of(roles: Iterable[DirectoryRole]) -> tuple[tuple[str, str], ...]:
    views = ((VIEW_ALLOWED, "Sign-in allowed users"), (VIEW_BLOCKED, "Sign-in blocked users"))
    labelled = [(f"{ROLE_VIEW_PREFIX}{role.template_id}", role.view_label) for role in roles]
    return views + tuple(sorted(labelled, key=lambda view: view[1].casefold()))


@lru_cache(maxsize=64)
def _known_role_views(held: frozenset[str], language: str | None) -> tuple[tuple[str, str], ...]:
    """The View dropdown for roles the portal knows by name, in ``language``: the same for
    every request of that language while the same roles have members."""
    return _views_of(DirectoryRole(template_id=template_id) for template_id in held)


class _Unindexed(Func):
    """``col || ''``: the same value as ``col``, but no index can supply it. Sorting a
    search's matches by it, the planner gathers the matches first and sorts them (a few ms),
    instead of walking the whole ordered index testing each row (60-90 ms at 100k users for
    a common prefix on PostgreSQL)."""

    template = "(%(expressions)s || '')"
    output_field = TextField()


SEARCH_COLUMNS = ("display_name", "user_principal_name", "mail")


def _prefix_matches(term: str, *, distinct: bool = True) -> tuple[str, list[str]]:
    """One SELECT of ids per search column (name, user name, mail) for the users whose
    value starts with ``term`` (case-insensitively), worded as Django words ``istartswith`` so
    the three prefix indexes (directory migration 0002) serve each; joined by UNION, or by
    UNION ALL (a user may come once per column) when ``distinct`` is false."""
    if connection.vendor == "postgresql":
        match = "UPPER({}::text) LIKE UPPER(%s)"
    else:
        match = "{} LIKE %s ESCAPE '\\'"
    # Only fixed table and column names enter the SQL; the term is a parameter.
    table = connection.ops.quote_name(DirectoryUser._meta.db_table)
    sql = (" UNION " if distinct else " UNION ALL ").join(
        f"SELECT id FROM {table} WHERE {match.format(connection.ops.quote_name(column))}"  # noqa: S608
        for column in SEARCH_COLUMNS
    )
    return sql, [like_prefix(term)] * len(SEARCH_COLUMNS)


def _search_ids(term: str) -> RawSQL:
    """The ids of the users whose name, user name or mail starts with ``term``, as a
    MATERIALIZED CTE over the three prefix indexes.

    Materialized, the match set is computed first, whatever the planner guesses. (No
    parallel bitmap heap scan, whose workers cost ~30 ms to start on a busy machine, is
    planned for a common prefix either: the portal's PostgreSQL connections plan no parallel
    workers, see settings.)"""
    union, params = _prefix_matches(term)
    return RawSQL(  # noqa: S611
        f"WITH matches AS MATERIALIZED ({union}) SELECT id FROM matches",  # noqa: S608
        params,
    )


def _more_matches_than(term: str, count: int) -> RawSQL:
    """Whether more than ``count`` index entries start with ``term``: at most ``count + 1``
    of them are read (UNION ALL stops at the limit), so it costs little whatever the term.
    A user counts once per column that matches, so this may say yes for fewer users, never
    no for more."""
    return RawSQL(*_more_matches_sql(term, count), output_field=BooleanField())  # noqa: S611


def _more_matches_sql(term: str, count: int) -> tuple[str, list[str]]:
    union, params = _prefix_matches(term, distinct=False)
    return (
        f"(SELECT COUNT(*) FROM ({union} LIMIT {int(count) + 1}) bound) > {int(count)}",  # noqa: S608
        params,
    )


def users_matching(user_filter: UserFilter, *, in_order: bool = False) -> QuerySet[DirectoryUser]:
    """The users the filter selects. ``in_order=True`` words the search so that no prefix
    index can serve it, for a query that walks the list's ordered index (the search window)."""
    users = DirectoryUser.objects.all()
    view = user_filter.view
    if view == VIEW_BLOCKED:
        users = users.filter(account_enabled=False)
    elif view.startswith(ROLE_VIEW_PREFIX):
        users = users.filter(roles__template_id=view.removeprefix(ROLE_VIEW_PREFIX))
    elif view != VIEW_ALL:
        users = users.filter(account_enabled=True)
    if user_filter.status != STATUS_ANY:
        # A correlated EXISTS rather than a join: the planner then walks the list's ordered
        # index and probes each user's MFA row until the page is full, instead of scanning
        # every MFA row and sorting the matches (SQLite's choice for the join at 100k users).
        state = MfaState.parse(user_filter.status)
        mfa_rows = UserMfa.objects.filter(user_id=OuterRef("pk"))
        if state == MfaState.DISABLED:
            # No MFA row at all is Disabled too.
            users = users.filter(~Exists(mfa_rows.exclude(state=MfaState.DISABLED)))
        else:
            users = users.filter(Exists(mfa_rows.filter(state=state)))
    if user_filter.search and in_order:
        term = user_filter.search
        users = users.alias(
            search_name=_Unindexed(F("display_name")),
            search_upn=_Unindexed(F("user_principal_name")),
            search_mail=_Unindexed(F("mail")),
        ).filter(
            Q(search_name__istartswith=term)
            | Q(search_upn__istartswith=term)
            | Q(search_mail__istartswith=term)
        )
    elif user_filter.search:
        users = users.filter(pk__in=_search_ids(user_filter.search))
    return users


# --- the users tab: sorting and keyset paging ------------------------------------------------

SORT_FIELDS = ("display_name", "user_principal_name")
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50

# A search first looks among the next SEARCH_WINDOW users in list order, in the same query as
# the page: when a page of matches is among them (the usual case) it costs a short index range
# scan, whatever the tenant's size. Only a prefix with few early matches pays for a second
# query that gathers every match.
SEARCH_WINDOW = 1000
# "Select all N users that match this view" counts at most this many before saying "more than".
COUNT_CAP = 1000


@dataclass(frozen=True)
class Sort:
    field: str = "display_name"
    descending: bool = False

    @classmethod
    def from_param(cls, value: str | None) -> Sort:
        value = (value or "").strip()
        descending = value.startswith("-")
        field = value.removeprefix("-")
        if field not in SORT_FIELDS:
            return cls()
        return cls(field, descending)

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.field

    def toggled(self, field: str) -> Sort:
        """The sort a click on ``field``'s column header asks for."""
        if field == self.field:
            return Sort(field, not self.descending)
        return Sort(field, False)


@dataclass(frozen=True)
class Cursor:
    """A position in the sorted list: the sort value and id of a row (keyset paging)."""

    value: str
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.value, self.id], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        """The cursor in a link, or None for anything that isn't one (a tampered URL)."""
        if not token or len(token) > 2000:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            value, id_ = json.loads(raw.decode())
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            return None
        # A value the database can't compare (a lone surrogate, NUL) or an id beyond its
        # integers is no cursor either.
        value, id_ = db_text(value), db_id(id_)
        if value is None or id_ is None:
            return None
        return cls(value, id_)


@dataclass(frozen=True)
class UserRow:
    id: int
    object_id: Any
    display_name: str
    user_principal_name: str
    state: int
    is_licensed: bool
    account_enabled: bool

    @property
    def state_label(self) -> str:
        return str(MfaState(self.state).label)

    @property
    def state_name(self) -> str:
        return MfaState(self.state).name.lower()


@dataclass(frozen=True)
class UserPage:
    rows: list[UserRow]
    size: int
    # Cursors for the links; None when there is no such page.
    next_cursor: Cursor | None
    prev_cursor: Cursor | None


_ROW_FIELDS = (
    "id",
    "object_id",
    "display_name",
    "user_principal_name",
    "mfa__state",
    "is_licensed",
    "account_enabled",
)
# The same columns when every match is gathered: the state read by a subquery (_page_query).
_GATHERED_ROW_FIELDS = tuple("mfa_state" if name == "mfa__state" else name for name in _ROW_FIELDS)


def _after(cursor: Cursor, *, ahead: bool, inclusive: bool = False) -> Q:
    """The rows past ``cursor`` in the list's direction, as an index-range condition on
    (sort_key, id): the first term bounds the range, the second breaks ties on id."""
    op = "gt" if ahead else "lt"
    op_or_equal = op + "e"
    tie = op_or_equal if inclusive else op
    return Q(**{f"sort_key__{op_or_equal}": cursor.value}) & (
        Q(**{f"sort_key__{op}": cursor.value}) | Q(**{f"id__{tie}": cursor.id})
    )


@dataclass(frozen=True)
class _Shape:
    """What makes one users-page statement differ from another, its values aside: each
    shape is built and compiled once per database (core.prepared), then bound to each
    request's role, search term and cursor."""

    view: str
    status: str
    search: bool
    cursor: bool
    ahead: bool
    reverse: bool
    field: str
    size: int


def _view_kind(view: str) -> str:
    """The view as users_matching reads it: a role's id is a value, not part of the shape."""
    if view.startswith(ROLE_VIEW_PREFIX):
        return ROLE_VIEW_PREFIX
    return view if view in (VIEW_BLOCKED, VIEW_ALL) else VIEW_ALLOWED


def _page_query(
    shape: _Shape, stage: str, role: str, term: str, cursor_value: str, cursor_id: int
) -> QuerySet[Any]:
    """The users page's statement: ``stage`` "page" (no search), "window" (the search among
    the next SEARCH_WINDOW users in list order) or "all" (every match, gathered first)."""
    view = shape.view + role if shape.view == ROLE_VIEW_PREFIX else shape.view
    user_filter = UserFilter(view=view, status=shape.status, search=term if shape.search else "")
    row_fields: tuple[str, ...] = _ROW_FIELDS
    cursor = Cursor(cursor_value, cursor_id) if shape.cursor else None
    ordering = [
        F("sort_key").desc() if shape.reverse else F("sort_key").asc(),
        "-id" if shape.reverse else "id",
    ]
    if stage == "window":
        # Matches up to the SEARCH_WINDOW-th user in list order (or the last, when fewer
        # remain), found by walking the ordered index from the cursor; the window's end is
        # an index-only probe, a subquery of the same statement.
        window = DirectoryUser.objects.annotate(sort_key=Upper(shape.field))
        if cursor is not None:
            window = window.filter(_after(cursor, ahead=shape.ahead))
        keys_sql, keys_params = (
            window.order_by(*ordering).values("sort_key")[:SEARCH_WINDOW].query.sql_with_params()
        )
        end = RawSQL(  # noqa: S611 (Django's own SQL for the query above)
            f"SELECT {'MAX' if shape.ahead else 'MIN'}(w.sort_key) FROM ({keys_sql}) w",  # noqa: S608
            keys_params,
        )
        users = users_matching(user_filter, in_order=True).annotate(sort_key=Upper(shape.field))
        users = users.filter(**{"sort_key__lte" if shape.ahead else "sort_key__gte": end})
        # A term that a page's worth of users or fewer match cannot fill a page anywhere:
        # the window is then not walked (a constant condition, tested before any row).
        users = users.filter(_more_matches_than(term, shape.size))
    elif stage == "all":
        # Every match through the three prefix indexes at once (PostgreSQL's BitmapOr,
        # SQLite's MULTI-INDEX OR), so each matching row is read once, where a UNION of ids
        # read each three times and then again by its id; and each user's MFA state by a
        # subquery, which PostgreSQL evaluates for the page's rows only, above the sort and
        # its limit (a join read every match's). "ma" at 100,000 users: 35 → 7 ms on
        # PostgreSQL, 11.7 → 7.0 ms on SQLite (issue 15, docs/performance.md, tenth round).
        matching = users_matching(UserFilter(view=view, status=shape.status)).filter(
            Q(display_name__istartswith=term)
            | Q(user_principal_name__istartswith=term)
            | Q(mail__istartswith=term)
        )
        users = matching.annotate(
            sort_key=Upper(shape.field),
            mfa_state=Subquery(UserMfa.objects.filter(user_id=OuterRef("pk")).values("state")),
        )
        row_fields = _GATHERED_ROW_FIELDS
    else:
        users = users_matching(user_filter).annotate(sort_key=Upper(shape.field))
    if cursor is not None:
        users = users.filter(_after(cursor, ahead=shape.ahead))
    if stage == "all":
        # Sorted by an order no index can supply, so the planner cannot walk the whole
        # ordered index testing each row.
        key = _Unindexed(Upper(shape.field))
        ordering = [key.desc() if shape.reverse else key.asc(), ordering[1]]
    return users.order_by(*ordering).values_list(*row_fields, "sort_key")[: shape.size + 1]


# Values no request passes (core.prepared): a role id, a search term, a cursor.
_STAND_INS = (
    "stand-in role " + "r" * 24,
    "qzjxstandinsearchqzjx",
    "stand-in cursor " + "c" * 24,
    -8_675_311,
)
_STATUSES = {STATUS_ANY, *(state.name.lower() for state in MfaState)}
_STATEMENTS: dict[tuple[_Shape, str], Prepared] = {}


def _prepared(shape: _Shape, stage: str) -> Prepared:
    prepared = _STATEMENTS.get((shape, stage))
    if prepared is None:
        prepared = Prepared(lambda *stand_ins: _page_query(shape, stage, *stand_ins), _STAND_INS)
        _STATEMENTS[(shape, stage)] = prepared
    return prepared


def _page_rows(
    shape: _Shape, stage: str, values: tuple[str, str, str, int]
) -> list[tuple[Any, ...]]:
    """The rows of one stage of the page, by its statement compiled once; a page size the
    list doesn't offer is built afresh, so no address can grow the cache."""
    if shape.size not in PAGE_SIZES or shape.status not in _STATUSES:
        return list(_page_query(shape, stage, *values))
    alias = router.db_for_read(DirectoryUser)
    sql, params = _prepared(shape, stage).sql(alias, values)
    if stage == "window" and connections[alias].vendor == "sqlite":
        sql, params = _window_limited_by_bound(sql, params, values[1], shape.size)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return _typed(cursor.fetchall())


def _search_rows(shape: _Shape, values: tuple[str, str, str, int]) -> list[tuple[Any, ...]]:
    """A search's rows: the window first; when it holds no more than a page, every match.

    On PostgreSQL both in one statement, one round trip: the window as a CTE, and every
    match only when the window is short (a condition PostgreSQL tests once, before reading
    a row). Most two-letter terms match a page or fewer users; they took two round trips
    where the floor's search takes one (issue 15, docs/performance.md, ninth round). On
    SQLite, in-process, two statements cost less than such a compound one (eighth round)."""
    alias = router.db_for_read(DirectoryUser)
    if (
        connections[alias].vendor != "postgresql"
        or shape.size not in PAGE_SIZES
        or shape.status not in _STATUSES
    ):
        found = _page_rows(shape, "window", values)
        if len(found) <= shape.size:
            found = _page_rows(shape, "all", values)
        return found
    window_sql, window_params = _prepared(shape, "window").sql(alias, values)
    every_sql, every_params = _prepared(shape, "all").sql(alias, values)
    order = "DESC" if shape.reverse else "ASC"
    sort_key, id_ = len(_ROW_FIELDS) + 1, 1  # the columns' positions
    sql = (
        f"WITH w AS ({window_sql}) SELECT w.*, 1 AS in_window FROM w UNION ALL "  # noqa: S608
        f"SELECT a.*, 0 FROM ({every_sql}) a WHERE NOT EXISTS (SELECT 1 FROM w OFFSET {shape.size}) "
        f"ORDER BY {sort_key + 1} DESC, {sort_key} {order}, {id_} {order}"
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [*window_params, *every_params])
        found = cursor.fetchall()
    in_window = [row[:-1] for row in found if row[-1] == 1]
    if len(in_window) > shape.size:
        return _typed(in_window)
    return _typed([row[:-1] for row in found if row[-1] == 0])


def _typed(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows as the page reads them, whatever the database's types."""
    return [
        (
            id_,
            oid if isinstance(oid, uuid.UUID) else uuid.UUID(oid),
            name,
            upn,
            state,
            bool(lic),
            bool(enabled),
            key,
        )
        for id_, oid, name, upn, state, lic, enabled, key in found
    ]


def _window_limited_by_bound(
    sql: str, params: list[Any], term: str, size: int
) -> tuple[str, list[Any]]:
    """The search window's statement with its bound (more than a page of index entries
    start with the term) also as its LIMIT, on SQLite. SQLite tests a WHERE condition
    holding a subquery as it walks the rows, so for a term few users match it walked the
    window's thousand rows to find none (0.33 ms at 100k users); a LIMIT is worked out before
    the first row is read, and a LIMIT of 0 reads none (0.005 ms). PostgreSQL tests such a
    condition once, before any row (a One-Time Filter), and keeps its statement."""
    ending = f" LIMIT {size + 1}"
    if not sql.endswith(ending):
        return sql, params  # worded otherwise by another Django: the WHERE still bounds it
    bound, bound_params = _more_matches_sql(term, size)
    limit = f" LIMIT (CASE WHEN {bound} THEN {size + 1} ELSE 0 END)"
    return sql.removesuffix(ending) + limit, [*params, *bound_params]


def users_page(
    user_filter: UserFilter,
    *,
    sort: Sort,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> UserPage:
    """One page of the users tab: keyset paging on (UPPER(column), id), never OFFSET, and
    never a count of the whole set. One query; on SQLite, two for a search with few early
    matches.

    The order is case-insensitive ("Megan" before "MOD"), and the expression indexes on
    (UPPER(column), id) (mfaportal.directory.indexes) serve it on SQLite and PostgreSQL.
    The cursor holds the database's own upper-cased value, so Python's idea of upper case
    never has to agree with the database's. A search is one query too when a page of
    matches lies among the next SEARCH_WINDOW users; otherwise its matches are gathered
    through the three prefix indexes at once, then sorted: by a second query on SQLite, by
    the same statement on PostgreSQL (``_search_rows``).
    """
    field, descending = sort.field, sort.descending
    backwards = before is not None and after is None
    cursor = before if backwards else after
    # Ahead in the list's direction: greater when ascending (or lesser going back).
    ahead = descending == backwards
    reverse = descending != backwards
    shape = _Shape(
        view=_view_kind(user_filter.view),
        status=user_filter.status,
        search=bool(user_filter.search),
        cursor=cursor is not None,
        ahead=ahead,
        reverse=reverse,
        field=field,
        size=size,
    )
    values = (
        user_filter.view.removeprefix(ROLE_VIEW_PREFIX),
        user_filter.search,
        cursor.value if cursor else "",
        cursor.id if cursor else 0,
    )
    if not user_filter.search:
        found = _page_rows(shape, "page", values)
    else:
        # The window first: a page of matches among the next SEARCH_WINDOW users in list
        # order (the usual case) costs a short index range scan. Otherwise every match is
        # gathered first, then sorted.
        found = _search_rows(shape, values)

    rows: list[UserRow] = []
    keys: list[str] = []
    for id_, oid, name, upn, state, lic, enabled, sort_key in found:
        rows.append(
            UserRow(
                id_, oid, name, upn, MfaState.DISABLED if state is None else state, lic, enabled
            )
        )
        keys.append(sort_key)
    more = len(rows) > size
    rows, keys = rows[:size], keys[:size]
    if backwards:
        rows.reverse()
        keys.reverse()
    has_next = more if not backwards else True
    has_prev = (cursor is not None) if not backwards else more
    return UserPage(
        rows=rows,
        size=size,
        next_cursor=Cursor(keys[-1], rows[-1].id) if rows and has_next else None,
        prev_cursor=Cursor(keys[0], rows[0].id) if rows and has_prev else None,
    )


def users_matching_count(user_filter: UserFilter, *, cap: int | None = COUNT_CAP) -> int:
    """How many users match, counting at most ``cap + 1`` (so the answer may be "more than
    ``cap``"); ``cap=None`` counts them all, which is for when the admin asks for it."""
    users = users_matching(user_filter).order_by()
    if cap is None:
        return users.count()
    return users.values("id")[: cap + 1].count()


def users_matching_ids(user_filter: UserFilter) -> list[int]:
    """Every matching user id, in id order: the fixed target list of a bulk step. Read as
    the database returns them, not through the ORM's iterator, which took longer than the
    query itself for a 10,000-user selection (issue 15)."""
    query = users_matching(user_filter).order_by("id").values_list("id", flat=True)
    sql, params = query.query.get_compiler(using=query.db).as_sql()
    with connections[query.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [user_id for (user_id,) in cursor.fetchall()]


@dataclass(frozen=True)
class SelectedUser:
    id: int
    object_id: Any
    display_name: str
    user_principal_name: str
    state: int
    is_licensed: bool
    registered: bool
    holds_admin_role: bool
    beyond_authentication_administrator_reach: bool


def users_selected(ids: list[int]) -> list[SelectedUser]:
    """The rows of a selection, with what the quick steps pane needs to know about each."""
    users = (
        DirectoryUser.objects.filter(pk__in=ids)
        .annotate(
            registered=Exists(VerificationMethod.objects.filter(user=OuterRef("pk"))),
            holds_role=holds_any_role(),
            beyond_reach=holds_role_beyond_authentication_administrator_reach(),
        )
        .order_by("display_name", "id")
        .values_list(
            "id",
            "object_id",
            "display_name",
            "user_principal_name",
            "mfa__state",
            "is_licensed",
            "registered",
            "holds_role",
            "beyond_reach",
        )
    )
    return [
        SelectedUser(i, o, n, u, MfaState.DISABLED if s is None else s, lic, reg, role, beyond)
        for i, o, n, u, s, lic, reg, role, beyond in users
    ]
