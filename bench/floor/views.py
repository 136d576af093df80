"""The floor's pages: 50 users, keyset paged on (UPPER(column), id), filtered, searched; the
setup and challenge pages; /legacy/auth."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.db.models.functions import Upper
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from bench.floor.models import AppPassword, Job, Method, Switches, TenantUser

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


PHONES = (
    ("auth", "authentication_phone", "Authentication phone"),
    ("office", "office_phone", "Office phone"),
    ("alt", "alternate_phone", "Alternate authentication phone"),
)
PREFERRED = (
    ("OneWaySMS", "Text code to my authentication phone", {"authentication_phone"}, "text"),
    ("TwoWayVoiceMobile", "Call my authentication phone", {"authentication_phone"}, "call"),
    ("TwoWayVoiceOffice", "Call my office phone", {"office_phone"}, "call"),
    ("TwoWayVoiceAlternateMobile", "Call my alternate phone", {"alternate_phone"}, "call"),
    ("PhoneAppNotification", "Notify me through app", {"authenticator_app"}, "notification"),
    ("PhoneAppOTP", "Use verification code from app or token", {"authenticator_app"}, "code"),
)


def _phone_row(prefix: str, legend: str, method: Method | None) -> dict[str, Any]:
    """A phone fieldset: the picker on the number's country, the number as dialled there."""
    region, national = "US", ""
    if method is not None:
        parsed = phonenumbers.parse(method.phone_number)
        region = phonenumbers.region_code_for_number(parsed) or "US"
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return {
        "prefix": prefix,
        "legend": legend,
        "picker": _picker(f"{prefix}-country", region),
        "number": national,
        "extension": method.extension if method is not None and prefix == "office" else None,
    }


@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """The /mfa/setup/ page's work done the plain Django way: the user's state, methods and
    the tenant's switches read (a query each), the preferred option, three phone rows with
    their pickers, the apps table, restore, and the password reset summary drawn by the
    template."""
    who = TenantUser.objects.only("display_name", "state").get(pk=request.session["tenant_user"])
    methods = list(Method.objects.filter(user_id=who.pk).order_by("created_at", "id"))
    switches = Switches.objects.get()
    by_kind = {m.kind: m for m in methods}
    allowed = {
        "text": switches.method_text,
        "call": switches.method_call,
        "notification": switches.method_app_notification,
        "code": switches.method_app_code,
    }
    email = by_kind.get("email")
    phone = by_kind.get("authentication_phone")
    context = {
        "who": who,
        "preferred": [
            (value, label)
            for value, label, kinds, switch in PREFERRED
            if allowed[switch] and kinds & by_kind.keys()
        ],
        "phones": [_phone_row(p, legend, by_kind.get(kind)) for p, kind, legend in PHONES],
        "apps": [m for m in methods if m.kind in ("authenticator_app", "hardware_token")],
        "passkeys": [m for m in methods if m.kind == "passkey"],
        "password_reset": switches.password_reset,
        "email": email.address if email else "",
        "phone": phonenumbers.format_number(
            phonenumbers.parse(phone.phone_number), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
        if phone
        else "",
    }
    return render(request, "floor/setup.html", context)


@login_required
@require_POST
def method_delete(request: HttpRequest, pk: int) -> HttpResponse:
    Method.objects.filter(pk=pk, user_id=request.session["tenant_user"]).delete()
    return redirect(setup)


@login_required
@require_POST
def restore(request: HttpRequest) -> HttpResponse:
    """Forget the user's remembered browsers: the floor keeps none, so there is nothing to do
    but return to the page."""
    return redirect(setup)


REGISTERED = (
    "EXISTS (SELECT 1 FROM floor_method m WHERE m.user_id = floor_tenantuser.id "
    "AND m.kind <> 'email')"
)


@login_required
@require_POST
def enable(request: HttpRequest) -> HttpResponse:
    """Select all sign-in allowed users, Enable them: a job row per user, an audit row per
    changed user, the states, in one transaction of set-based statements; the result drawn.
    As on Microsoft's page, a user who already registered a method becomes Enforced, not
    Enabled, and their job row says so."""
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM floor_tenantuser WHERE account_enabled")
        ids = [row[0] for row in cursor.fetchall()]
        admin = TenantUser.objects.only("id").get(user_principal_name=request.user.get_username())
        job = Job.objects.create(requested="Enabled", created_at=now).pk
        changed = "account_enabled AND is_licensed AND state = 0"
        cursor.execute(
            "INSERT INTO floor_auditrow (at, actor_id, actor_label, target_id, target_label, "
            "action, before, after, source, ip_address, detail) "
            "SELECT %s, %s, %s, id, user_principal_name, 'mfa.state', 'Disabled', "
            f"CASE WHEN {REGISTERED} THEN 'Enforced' ELSE 'Enabled' END, 'portal', %s, %s "
            f"FROM floor_tenantuser WHERE {changed}",
            [now, admin.pk, admin.user_principal_name, "127.0.0.1", f'{{"job": {job}}}'],
        )
        audited = cursor.rowcount
        cursor.execute(
            f"UPDATE floor_tenantuser SET state = CASE WHEN {REGISTERED} THEN 2 ELSE 1 END "
            f"WHERE {changed}"
        )
        cursor.execute(
            "INSERT INTO floor_jobrow (job_id, line, user_principal_name, requested, outcome, "
            "reason) SELECT %s, NULL, user_principal_name, 'Enabled', CASE WHEN is_licensed "
            "THEN 'changed' ELSE 'skipped' END, CASE WHEN NOT is_licensed THEN "
            f"'Only licensed users are eligible.' WHEN {REGISTERED} THEN "
            "'Already registered, so Enabled became Enforced.' ELSE '' END "
            "FROM floor_tenantuser WHERE account_enabled",
            [job],
        )
    context = {"users": len(ids), "changed": audited}
    return render(request, "floor/enabled.html", context)


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
