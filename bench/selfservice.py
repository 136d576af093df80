"""Self-service benchmarks (issue 4): /legacy/auth and challenge verification.

    python -m bench.selfservice [--iterations 400] [--filler-users 5000]

Measures server time through Django's test client (the full middleware stack and view,
no network): the legacy endpoint for a user holding 1 and 40 app passwords, among a tenant
with tens of thousands of other app passwords, and the second step of sign-in with a TOTP
code (view and service). Uses ``DATABASE_URL`` when set, else a fresh SQLite file in a
temporary directory. Floors (issue 4): legacy p50 ≤ 5 ms and 1-vs-40 ratio ≤ 1.2;
challenge verification p50 ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def _setup_django() -> str:
    os.environ.setdefault("MFAPORTAL_DEBUG", "true")
    os.environ.setdefault("MFAPORTAL_SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("MFAPORTAL_LOG_LEVEL", "WARNING")
    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="mfaportal-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mfaportal.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    return os.environ["DATABASE_URL"].split("://", 1)[0]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered) * 1000,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000,
    }


def _timed(
    call: Callable[[], Any], iterations: int, before: Callable[[], Any] | None = None
) -> list[float]:
    samples = []
    for _ in range(iterations):
        if before is not None:
            before()
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def challenge_pending(client: Any, user: Any, method_id: int, lifetime: Any) -> None:
    """Park ``client`` at the sign-in challenge for ``user``'s authenticator app ``method_id``
    (a sign-in whose password step is done), for ``lifetime``."""
    from django.utils import timezone

    from mfaportal.selfservice.flow import CHALLENGE, SIGN_IN
    from mfaportal.selfservice.models import Flow

    session = client.session
    now = timezone.now()
    pending = Flow.objects.create(
        kind=SIGN_IN,
        user=user,
        stage=CHALLENGE,
        data={
            "auth_hash": user.get_session_auth_hash(),
            "next": "",
            "option": f"PhoneAppOTP:{method_id}",
        },
        created_at=now,
        expires_at=now + lifetime,
    )
    session[f"flow:{SIGN_IN}"] = str(pending.pk)
    session.save()
    client.cookies["sessionid"] = str(session.session_key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument(
        "--filler-users", type=int, default=5000, help="other users, 5 app passwords each"
    )
    args = parser.parse_args(argv)
    vendor = _setup_django()

    import secrets

    from django.core.management import call_command
    from django.test import Client

    from mfaportal.directory.models import DirectoryUser
    from mfaportal.mfa import challenges, totp
    from mfaportal.mfa.models import (
        AppPassword,
        MfaState,
        ServiceSettings,
        UserMfa,
        VerificationMethod,
    )
    from mfaportal.mfa.services.app_passwords import app_password_digest, app_password_generate
    from mfaportal.selfservice.flow import PENDING_TTL

    call_command("migrate", verbosity=0, interactive=False)
    ServiceSettings.load()
    ServiceSettings.objects.filter(pk=1).update(app_passwords_allowed=True)
    run = secrets.token_hex(3)

    # A tenant around the users we measure: many other users, each with app passwords.
    filler = DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(
                user_principal_name=f"bench{run}-{n}@contoso.test",
                display_name=f"Bench {n}",
                password="!",
            )
            for n in range(args.filler_users)
        ],
        batch_size=1000,
    )
    AppPassword.objects.bulk_create(
        [
            AppPassword(
                user=user, name=f"device {k}", digest=app_password_digest(app_password_generate())
            )
            for user in filler
            for k in range(5)
        ],
        batch_size=2000,
    )

    def enforced_user(upn: str, app_passwords: int) -> tuple[DirectoryUser, str]:
        user = DirectoryUser.objects.create(user_principal_name=upn, display_name=upn, password="!")
        UserMfa.objects.create(user=user, state=MfaState.ENFORCED, default_method="PhoneAppOTP")
        values = [app_password_generate() for _ in range(app_passwords)]
        AppPassword.objects.bulk_create(
            [
                AppPassword(user=user, name=f"app {i}", digest=app_password_digest(v))
                for i, v in enumerate(values)
            ]
        )
        return user, values[-1]

    _one, one_value = enforced_user(f"one-{run}@contoso.test", 1)
    _forty, forty_value = enforced_user(f"forty-{run}@contoso.test", 40)
    client = Client(REMOTE_ADDR="192.0.2.10")

    def legacy(upn: str, value: str) -> Callable[[], None]:
        header = "Basic " + base64.b64encode(f"{upn}:{value}".encode()).decode()

        def call() -> None:
            response = client.get("/legacy/auth", HTTP_AUTHORIZATION=header)
            assert response.status_code == 200, response.status_code

        return call

    one_call = legacy(f"one-{run}@contoso.test", one_value)
    forty_call = legacy(f"forty-{run}@contoso.test", forty_value)
    for call in (one_call, forty_call):
        _timed(call, 50)  # warm up
    one_samples: list[float] = []
    forty_samples: list[float] = []
    for _round in range(4):  # interleaved, so drift hits both alike
        one_samples += _timed(one_call, args.iterations // 4)
        forty_samples += _timed(forty_call, args.iterations // 4)

    # The second step of sign-in with a TOTP code: the view (with login) and the service.
    user = DirectoryUser.objects.create(
        user_principal_name=f"totp-{run}@contoso.test", display_name="TOTP", password="!"
    )
    UserMfa.objects.create(user=user, state=MfaState.ENFORCED, default_method="PhoneAppOTP")
    secret = totp.secret_generate()
    ciphertext, key_id = totp.secret_seal(secret, object_id=str(user.object_id))
    method = VerificationMethod.objects.create(
        user=user,
        kind="authenticator_app",
        app_mode="code",
        secret_ciphertext=ciphertext,
        secret_key_id=key_id,
    )
    browser = Client()

    def fresh_pending_sign_in() -> None:
        VerificationMethod.objects.filter(pk=method.pk).update(last_used_step=None)
        browser.cookies.clear()
        challenge_pending(browser, user, method.pk, PENDING_TTL)

    def verify_view() -> None:
        code = totp.code_at(secret, step=totp.current_step())
        response = browser.post("/signin/verify/", {"action": "code", "code": code})
        assert response.status_code == 302, response.status_code

    def reset_step() -> None:
        VerificationMethod.objects.filter(pk=method.pk).update(last_used_step=None)

    def verify_service() -> None:
        outcome = challenges.totp_check(
            method_id=method.pk, user=user, code=totp.code_at(secret, step=totp.current_step())
        )
        assert outcome.ok, outcome

    _timed(verify_view, 20, before=fresh_pending_sign_in)
    view_samples = _timed(verify_view, args.iterations // 2, before=fresh_pending_sign_in)
    service_samples = _timed(verify_service, args.iterations, before=reset_step)

    one, forty = _percentiles(one_samples), _percentiles(forty_samples)
    view, service = _percentiles(view_samples), _percentiles(service_samples)
    ratio = forty["p50"] / one["p50"]
    rows = [
        ("/legacy/auth, 1 app password", one, "p50 ≤ 5 ms"),
        ("/legacy/auth, 40 app passwords", forty, f"p50 ≤ 5 ms; ratio {ratio:.2f} ≤ 1.2"),
        ("POST /signin/verify/ (TOTP, login)", view, "p50 ≤ 20 ms"),
        ("totp_check service", service, ""),
    ]
    tenant_rows = AppPassword.objects.count()
    print(
        f"database: {vendor}; app passwords in the tenant: {tenant_rows}; iterations: {args.iterations}"
    )
    print(f"{'what':<40} {'p50 ms':>8} {'p95 ms':>8}  floor")
    for label, figures, floor in rows:
        print(f"{label:<40} {figures['p50']:8.2f} {figures['p95']:8.2f}  {floor}")
    ok = one["p50"] <= 5 and forty["p50"] <= 5 and ratio <= 1.2 and view["p50"] <= 20
    print("floors met" if ok else "FLOORS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
