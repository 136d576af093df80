"""The floor's process: ``python -m bench`` starts it and sends one JSON command per line.

{"cmd": "use", "database": {...}}   point at a tenant's database (the portal's settings)
{"cmd": "copy"}                     copy the portal's users into the floor's table
{"cmd": "sign_in", "pending": id}   sign the floor's client in (a database session and a
                                    contrib.auth user) with a sign-in waiting for user ``id``
                                    -> {"session": key}
{"cmd": "time", "url": ..., "n": 10, "htmx": false, "shows": [...], "warm": true}
                                    -> {"ms": [...], "rows": n, "lacking": [what of
                                    "shows" the page does not show]}; "warm": one
                                    untimed request first
{"cmd": "calls", "url": ..., "n": 5, "htmx": false}
                                    -> {"calls": Python calls per request (bench.calls)}
{"cmd": "enable"}                   set-based Enable of the sign-in allowed users
                                    -> {"seconds": ..., "changed": ..., "enforced": ...,
                                    "users": ...}
{"cmd": "quit"}
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from typing import Any

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.floor.settings"


def _copy() -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from bench.floor.models import (
        AppPassword,
        AuditRow,
        Job,
        JobRow,
        Method,
        Switches,
        TenantUser,
    )

    models = (TenantUser, AuditRow, Job, JobRow, AppPassword, Method, Switches, User)
    through = [f"auth_user_{field.name}" for field in User._meta.many_to_many]
    with connection.cursor() as cursor:
        for table in [*through, *(model._meta.db_table for model in models)]:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
    with connection.schema_editor() as editor:
        for model in models:
            editor.create_model(model)
    pg = connection.vendor == "postgresql"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO floor_tenantuser (id, user_principal_name, display_name, mail, "
            "account_enabled, is_licensed, state) SELECT u.id, u.user_principal_name, "
            "u.display_name, u.mail, u.account_enabled, u.is_licensed, COALESCE(m.state, 0) "
            "FROM directory_directoryuser u LEFT JOIN mfa_usermfa m ON m.user_id = u.id"
        )
        cursor.execute(
            "INSERT INTO floor_apppassword (user_id, digest) "
            "SELECT user_id, digest FROM mfa_apppassword"
        )
        cursor.execute(
            "INSERT INTO floor_method (user_id, kind, phone_number, extension, app_mode, "
            "device_name, address, created_at) SELECT user_id, kind, phone_number, extension, "
            "app_mode, device_name, '', created_at FROM mfa_verificationmethod "
            "UNION ALL SELECT user_id, 'email', '', '', '', '', address, verified_at "
            "FROM mfa_authenticationemail WHERE verified_at IS NOT NULL"
        )
        cursor.execute(
            "INSERT INTO floor_switches (id, method_text, method_call, method_app_notification, "
            "method_app_code, password_reset) SELECT id, method_text, method_call, "
            "method_app_notification, method_app_code, password_reset_enabled "
            "FROM mfa_servicesettings"
        )
        for column in ("display_name", "user_principal_name"):
            cursor.execute(
                f"CREATE INDEX floor_{column}_order ON floor_tenantuser (UPPER({column}), id)"
            )
        for column in ("display_name", "user_principal_name", "mail"):
            expression = (
                f"(UPPER({column}::text)) text_pattern_ops" if pg else (f"{column} COLLATE NOCASE")
            )
            cursor.execute(f"CREATE INDEX floor_{column}_prefix ON floor_tenantuser ({expression})")
        cursor.execute("SELECT COUNT(*) FROM floor_tenantuser")
        (count,) = cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"users": count}


def _enable(client: Any) -> dict[str, Any]:
    """The floor's select-all Enable (``views.enable``) through a request of its signed-in
    admin, timed; then the states go back. The audit and job rows stay, as the portal's do,
    so that both sides' tables grow alike from round to round."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT id, state FROM floor_tenantuser")
        before = cursor.fetchall()
        cursor.execute("UPDATE floor_tenantuser SET state = 0")
        cursor.execute("SELECT COUNT(*) FROM floor_auditrow")
        (audit_before,) = cursor.fetchone()
    started = time.perf_counter()
    response = client.post("/users/enable/")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    with transaction.atomic(), connection.cursor() as cursor:  # the states as they were
        cursor.execute("SELECT COUNT(*) FROM floor_auditrow")
        (audit_after,) = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM floor_tenantuser WHERE state = 2")
        (enforced,) = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM floor_tenantuser WHERE account_enabled")
        (users,) = cursor.fetchone()
        cursor.executemany(
            "UPDATE floor_tenantuser SET state = %s WHERE id = %s",
            [(state, id_) for id_, state in before],
        )
    return {
        "seconds": seconds,
        "changed": audit_after - audit_before,
        "enforced": enforced,
        "users": users,
    }


def _sign_in(client: Any, pending: int) -> dict[str, Any]:
    """The floor's admin, signed in through a database session like any Django site's, whose
    session also holds a sign-in waiting at the code page (the floor's challenge page)."""
    from django.contrib.auth.models import User

    admin, _created = User.objects.get_or_create(username="admin@contoso.test")
    client.force_login(admin)
    session = client.session
    session["pending"] = pending
    session["tenant_user"] = pending  # whose security info the setup page shows
    session.save()
    return {"session": session.session_key}


def calls_per_request(request: Any, n: int) -> float:
    """The Python calls (C functions included) one ``request()`` makes, over ``n`` of them
    after three to warm up: a count no load on the machine can move (bench.calls)."""
    for _ in range(3):
        request()
    calls = 0

    def count(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal calls
        if event == "call" or event == "c_call":
            calls += 1

    sys.setprofile(count)
    try:
        for _ in range(n):
            request()
    finally:
        sys.setprofile(None)
    return calls / n


def main() -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    # One browser per tenant database: each signs in to its own database's sessions.
    clients: dict[str, Client] = {}
    client = Client()
    for line in sys.stdin:
        command = json.loads(line)
        answer: dict[str, Any] = {}
        if command["cmd"] == "use":
            connection.close()
            connection.settings_dict["NAME"] = command["name"]
            client = clients.setdefault(command["name"], Client())
        elif command["cmd"] == "copy":
            answer = _copy()
        elif command["cmd"] == "sign_in":
            answer = _sign_in(client, command["pending"])
        elif command["cmd"] == "app_password":
            from bench.floor.models import AppPassword
            from bench.floor.views import app_password_digest

            digest = app_password_digest(command["secret"])
            AppPassword.objects.create(user_id=command["user_id"], digest=digest)
        elif command["cmd"] == "time":
            headers: dict[str, Any] = dict(command.get("headers") or {})
            if command.get("htmx"):
                headers["HTTP_HX_REQUEST"] = "true"
            if command.get("warm", True):
                client.get(command["url"], **headers)
            timings = []
            for _ in range(command.get("n", 10)):
                started = time.perf_counter()
                response = client.get(command["url"], **headers)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            text = response.content.decode()
            answer = {
                "ms": timings,
                "rows": text.count('name="u" value='),
                "lacking": [shown for shown in command.get("shows", ()) if shown not in text],
            }
        elif command["cmd"] == "calls":
            calls_headers: dict[str, Any] = dict(command.get("headers") or {})
            if command.get("htmx"):
                calls_headers["HTTP_HX_REQUEST"] = "true"
            get = functools.partial(client.get, command["url"], **calls_headers)
            answer = {"calls": calls_per_request(get, command.get("n", 5))}
        elif command["cmd"] == "enable":
            answer = _enable(client)
        elif command["cmd"] == "quit":
            break
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
