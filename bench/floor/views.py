"""The floor's one page: 50 users, keyset paged on (UPPER(column), id), filtered, searched."""

from __future__ import annotations

from django.db import connection
from django.db.models.functions import Upper
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bench.floor.models import TenantUser

PAGE = 50
COLUMNS = {"name": "display_name", "upn": "user_principal_name"}


def _search(term: str, column: str) -> list[TenantUser]:
    """Every match gathered first through the prefix indexes (a MATERIALIZED CTE, which no
    planner turns into a walk of the ordered index or a parallel scan), then sorted."""
    pattern = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if connection.vendor == "postgresql":
        match = "UPPER({}::text) LIKE UPPER(%s) ESCAPE '\\'"
    else:
        match = "{} LIKE %s ESCAPE '\\'"
    union = " UNION ".join(
        f"SELECT id FROM floor_tenantuser WHERE {match.format(c)}"
        for c in ("display_name", "user_principal_name", "mail")
    )
    sql = (
        f"WITH m AS MATERIALIZED ({union}) "
        "SELECT t.id, t.display_name, t.user_principal_name, t.state, "
        f"UPPER(t.{column}) AS sort_key FROM floor_tenantuser t JOIN m ON m.id = t.id "
        f"WHERE t.account_enabled ORDER BY UPPER(t.{column}), t.id LIMIT {PAGE + 1}"
    )
    return list(TenantUser.objects.raw(sql, [pattern] * 3))


def users(request: HttpRequest) -> HttpResponse:
    column = COLUMNS.get(request.GET.get("sort", ""), "display_name")
    q = request.GET.get("q", "")
    if q:
        rows = _search(q, column)
    else:
        found = TenantUser.objects.filter(account_enabled=True).annotate(sort_key=Upper(column))
        if status := request.GET.get("status"):
            found = found.filter(state=int(status))
        if after := request.GET.get("after"):
            id_, _colon, key = after.partition(":")
            found = found.filter(sort_key__gte=key).exclude(sort_key=key, id__lte=int(id_))
        fields = ("id", "display_name", "user_principal_name", "state")
        rows = list(found.order_by("sort_key", "id").only(*fields)[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    last = rows[-1] if rows and more else None
    context = {
        "users": rows,
        "q": q,
        "next": f"{last.id}:{last.sort_key}" if last else "",  # type: ignore[attr-defined]
    }
    template = "floor/rows.html" if request.headers.get("HX-Request") else "floor/users.html"
    return render(request, template, context)
