"""gunicorn refuses to serve a production portal that would keep live codes in clear
(issue 14, finding 6): gunicorn runs no system checks, so the WSGI module runs the portal's."""

from __future__ import annotations

import sys

from tests.deploy.conftest import Production, free_port


def test_gunicorn_refuses_to_start_with_the_outboxes_in_production(
    production: Production,
) -> None:
    for name in ("MFAPORTAL_TELEPHONY", "MFAPORTAL_TELEPHONY_URL", "MFAPORTAL_EMAIL_URL"):
        production.env.pop(name)
    gunicorn = production.start(
        "gunicorn",
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        MFAPORTAL_BIND=f"127.0.0.1:{free_port()}",
        MFAPORTAL_WORKERS="1",
    )
    assert gunicorn.wait(timeout=60) != 0
    log = production.log("gunicorn")
    assert "mfa.E001" in log and "mfa.E002" in log
