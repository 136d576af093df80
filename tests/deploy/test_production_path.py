"""The documented production path, end to end: migrate, collectstatic, check --deploy,
gunicorn and the db_worker behind a (simulated) TLS-terminating proxy, then a bulk update
applied through the pages and finished by the worker."""

from __future__ import annotations

import http.client
import json
import re
import sys
import time
import uuid
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from tests.deploy.conftest import PASSWORD, Production, free_port, wait_for_port

JOB_WAIT = 40


class BehindProxy:
    """A tiny browser speaking plain HTTP to gunicorn as nginx would after terminating TLS:
    every request says ``X-Forwarded-Proto: https``. It keeps cookies itself, Secure ones
    included (urllib's cookie jar would never send those over http)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        all_headers = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            **(headers or {}),
        }
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            # Django checks the Origin of every secure unsafe request against the host.
            all_headers.setdefault("Origin", self.origin)
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    self.cookies[name] = morsel.value
            return response.status, dict(response.headers.items()), data
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, dict[str, str], str]:
        status, headers, data = self.request("GET", path)
        return status, headers, data.decode()

    def post(
        self, path: str, body: bytes, content_type: str = "application/x-www-form-urlencoded"
    ) -> tuple[int, dict[str, str]]:
        status, headers, _ = self.request("POST", path, body, {"Content-Type": content_type})
        return status, headers

    def csrf_token(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match, "no CSRF token in the form"
        return match.group(1)


def local_path(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def multipart(fields: dict[str, str], file_field: str, file_name: str, content: bytes):
    boundary = uuid.uuid4().hex
    lines: list[bytes] = []
    for name, value in fields.items():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"'.encode(),
            b"",
            value.encode(),
        ]
    lines += [
        f"--{boundary}".encode(),
        f'Content-Disposition: form-data; name="{file_field}"; filename="{file_name}"'.encode(),
        b"Content-Type: text/csv",
        b"",
        content,
        f"--{boundary}--".encode(),
        b"",
    ]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"


def mfa_state(production: Production, upn: str) -> str:
    result = production.manage("mfa", "get-user", upn, "--json")
    return str(json.loads(result.stdout)["mfaState"])


def disabled_users(production: Production, count: int) -> list[str]:
    report = production.manage("mfa", "report", "--format", "csv").stdout.splitlines()
    header = [column.strip().lower() for column in report[0].split(",")]
    upn_at = next(i for i, c in enumerate(header) if "principal" in c or c == "username")
    state_at = next(i for i, c in enumerate(header) if "status" in c or "state" in c)
    named = {"admin@contoso.test", "helpdesk@contoso.test", "adele@contoso.test"}
    picked = []
    for line in report[1:]:
        cells = line.split(",")
        if (
            len(cells) == len(header)
            and cells[state_at] == "Disabled"
            and cells[upn_at] not in named
            and cells[upn_at].isascii()
        ):
            picked.append(cells[upn_at])
    assert len(picked) >= count, f"the demo tenant has too few Disabled users: {report[:5]}"
    return picked[:count]


def test_production_path_gunicorn_and_db_worker_apply_a_bulk_update(
    production: Production,
) -> None:
    started = time.monotonic()
    production.manage("migrate", "--noinput")
    production.manage("collectstatic", "--noinput")
    production.manage("seed_demo", "--users", "50", "--password", PASSWORD)
    check = production.manage("check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in check.stdout

    port = free_port()
    gunicorn = production.start(
        "gunicorn",
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        MFAPORTAL_BIND=f"127.0.0.1:{port}",
        MFAPORTAL_WORKERS="2",
    )
    production.start(
        "db_worker",
        sys.executable,
        "manage.py",
        "db_worker",
        "--no-startup-delay",
        "--interval",
        "0.2",
        "--queue-name",
        "*",
    )
    wait_for_port(port, gunicorn)
    browser = BehindProxy(port)
    try:
        # Health and readiness answer the load balancer.
        status, _, body = browser.get("/health/")
        assert status == 200, body
        status, _, body = browser.get("/ready/")
        assert (status, json.loads(body)["status"]) == (200, "ok"), body

        # Plain http (no proxy header) is sent to https; behind the proxy the page answers.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/signin/", headers={"Host": f"127.0.0.1:{port}"})
        plain = conn.getresponse()
        plain.read()
        conn.close()
        assert plain.status == 301
        assert plain.headers["Location"].startswith("https://")

        status, headers, html = browser.get("/signin/")
        assert status == 200, html
        assert "max-age=31536000" in headers["Strict-Transport-Security"]

        # The stylesheet is a hashed file served by whitenoise, cached for good.
        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert stylesheet, "no stylesheet link on the sign-in page"
        assert re.search(r"\.[0-9a-f]{12}\.css$", stylesheet.group(1)), stylesheet.group(1)
        status, headers, css = browser.get(stylesheet.group(1))
        assert status == 200
        assert "max-age=315360000" in headers["Cache-Control"]
        assert "immutable" in headers["Cache-Control"]
        assert css.strip()

        # The browser's own /favicon.ico request leads to the hashed icon whitenoise serves.
        status, headers, _ = browser.request("GET", "/favicon.ico")
        assert status == 302
        assert re.search(r"/favicon\.[0-9a-f]{12}\.ico$", headers["Location"]), headers
        status, headers, icon = browser.request("GET", local_path(headers["Location"]))
        assert status == 200
        assert icon[:4] == b"\x00\x00\x01\x00"  # an icon resource

        # Sign in as the demo admin; the session and CSRF cookies are Secure and HttpOnly.
        status, headers = browser.post(
            "/signin/",
            urlencode(
                {
                    "csrfmiddlewaretoken": browser.csrf_token(html),
                    "username": "admin@contoso.test",
                    "password": PASSWORD,
                }
            ).encode(),
        )
        assert status == 302, (status, production.log_tail())
        assert "sessionid" in browser.cookies
        status, _, html = browser.get("/admin/bulk-update/")
        assert status == 200, html

        # Upload a bulk update enabling three seeded users, verify, apply.
        upns = disabled_users(production, 3)
        content = ("Username,MFA Status\r\n" + "".join(f"{u},Enabled\r\n" for u in upns)).encode()
        body_bytes, content_type = multipart(
            {"csrfmiddlewaretoken": browser.csrf_token(html)}, "file", "enable.csv", content
        )
        status, headers = browser.post("/admin/bulk-update/", body_bytes, content_type)
        assert status == 302, (status, production.log_tail())
        verify_path = local_path(headers["Location"])
        status, _, html = browser.get(verify_path)
        assert status == 200
        assert "3 rows are ready to update." in html
        apply_path = re.search(r'action="([^"]+/apply/)"', html)
        assert apply_path, html
        status, headers = browser.post(
            apply_path.group(1),
            urlencode({"csrfmiddlewaretoken": browser.csrf_token(html)}).encode(),
        )
        assert status == 302
        job_path = local_path(headers["Location"])
        assert job_path.startswith("/admin/jobs/")

        # The worker, not the request, applies the file; the job page reports it.
        deadline = time.monotonic() + JOB_WAIT
        while True:
            status, _, html = browser.get(job_path)
            assert status == 200
            if "Updates successful" in html or "Updates stopped" in html:
                break
            assert time.monotonic() < deadline, (
                f"the worker did not finish the job in {JOB_WAIT}s\n{production.log_tail()}"
            )
            time.sleep(0.3)
        assert "Updates successful" in html, html
        assert "3 updated" in html
    finally:
        production.stop_all()

    for upn in upns:
        assert mfa_state(production, upn) == "Enabled"
    # The structured logs reached stdout as JSON, one object per line.
    worker_log = production.log("db_worker")
    assert any(line.startswith("{") for line in worker_log.splitlines()), worker_log[-2000:]
    assert time.monotonic() - started < 90
