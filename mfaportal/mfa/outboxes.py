"""The outboxes: where the ``outbox`` telephony and mail backends keep texts, calls and
mails instead of sending them, for the local-mode simulators (/demo/phone/, /demo/mail/).

They carry live codes, so:

- production (``MFAPORTAL_DEBUG`` off) refuses to start with an outbox or console backend
  (a system check error: ``check``, ``migrate``, runserver and gunicorn stop) unless a lab
  says ``MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION=true``;
- a row keeps its codes only while a simulator can show it (``MFAPORTAL_SIMULATORS``);
  otherwise every run of digits is masked before it is stored;
- rows older than ``KEEP`` are deleted whenever a new one is written.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils import timezone

from mfaportal.mfa.mail_config import CONSOLE, OUTBOX
from mfaportal.mfa.models import OutboxEmail, TelephonyMessage

# Codes live minutes; the simulators show the day's messages.
KEEP = timedelta(days=1)
# Verification codes are 6 digits; nothing else in a text, call or code mail is 4 or more.
_CODE = re.compile(r"\d{4,}")
CHECK_TAG = "mfaportal"


def outbox_text(body: str) -> str:
    """The body as an outbox may store it: as sent while a simulator reads it, with every
    code masked otherwise."""
    if settings.MFAPORTAL_SIMULATORS:
        return body
    return _CODE.sub(lambda found: "•" * len(found.group()), body)


def outboxes_prune(*, now: datetime | None = None) -> None:
    """Delete outbox rows older than ``KEEP`` (called on every write)."""
    before = (now or timezone.now()) - KEEP
    TelephonyMessage.objects.filter(created_at__lt=before).delete()
    OutboxEmail.objects.filter(created_at__lt=before).delete()


@checks.register(CHECK_TAG, checks.Tags.security)
def clear_codes_in_production(**kwargs: Any) -> list[checks.CheckMessage]:
    """Production must send texts and mails for real, not keep their codes in the database
    (or print them to the log)."""
    if settings.DEBUG or settings.MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION:
        return []
    lab = (
        "Only for a lab whose codes may be read from the database, set "
        "MFAPORTAL_ALLOW_OUTBOX_IN_PRODUCTION=true (docs/deployment.md)."
    )
    errors: list[checks.CheckMessage] = []
    if settings.MFAPORTAL_TELEPHONY in ("outbox", "console"):
        errors.append(
            checks.Error(
                f"MFAPORTAL_TELEPHONY={settings.MFAPORTAL_TELEPHONY} keeps text and call codes "
                "in clear (the database or the log) and sends nothing; production refuses it.",
                hint="Set MFAPORTAL_TELEPHONY=http with MFAPORTAL_TELEPHONY_URL and "
                "MFAPORTAL_TELEPHONY_TOKEN. " + lab,
                id="mfa.E001",
            )
        )
    if settings.EMAIL_BACKEND in (OUTBOX, CONSOLE):
        errors.append(
            checks.Error(
                "Mail goes to the outbox or the console: email codes are kept in clear and "
                "nothing is sent; production refuses it.",
                hint="Set MFAPORTAL_EMAIL_URL (smtp:// or smtps://) or EMAIL_HOST. " + lab,
                id="mfa.E002",
            )
        )
    return errors
