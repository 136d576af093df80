"""The floor's one page: 50 users, keyset paged on (UPPER(column), id), filtered, searched."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models.functions import Upper
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.utils.safestring import SafeString

from bench.floor.models import AppPassword, TenantUser

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


@login_required
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


@cache
def _country_options() -> list[tuple[str, str]]:
    """Every region phonenumbers dials, named in English, as escaped ``<option>`` elements
    (value, HTML), built once per process."""
    import phonenumbers
    from phonenumbers import geocoder

    found = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        name = geocoder._region_display_name(region, "en") or region
        label = f"{name} (+{phonenumbers.country_code_for_region(region)})"
        found.append((label.casefold(), region, label))
    return [
        (region, str(format_html('<option value="{}">{}</option>', region, label)))
        for _key, region, label in sorted(found)
    ]


def _picker(name: str, chosen: str) -> SafeString:
    options = "".join(
        html.replace(">", " selected>", 1) if region == chosen else html
        for region, html in _country_options()
    )
    return format_html('<select name="{}">{}</select>', name, SafeString(options))


@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Three phone rows, each with a country picker, in the layout (the /mfa/setup/ form)."""
    pickers = [_picker(f"{prefix}-country", "US") for prefix in ("auth", "office", "alt")]
    return render(request, "floor/setup.html", {"pickers": pickers})


def verify(request: HttpRequest) -> HttpResponse:
    """The challenge page: the sign-in waiting in the session, its user, a code box in the
    layout."""
    pending = TenantUser.objects.only("display_name").get(pk=request.session["pending"])
    return render(request, "floor/verify.html", {"method": "Authenticator app", "who": pending})


def legacy_auth(request: HttpRequest) -> HttpResponse:
    """Basic credentials with an app password: one indexed look-up of its keyed hash."""
    scheme, _space, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return HttpResponse(status=401)
    upn, _colon, secret = base64.b64decode(encoded).decode().partition(":")
    found = (
        AppPassword.objects.filter(
            digest=app_password_digest(secret), user__user_principal_name=upn
        )
        .values_list("user__state", flat=True)
        .first()
    )
    return HttpResponse(status=200 if found else 401)


def app_password_digest(secret: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), "".join(secret.split()).lower().encode(), hashlib.sha256
    ).hexdigest()
