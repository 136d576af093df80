"""Mail: how authentication email codes leave the portal.

Through Django's email backends (``EMAIL_BACKEND``, set from ``MFAPORTAL_EMAIL_URL`` or the
usual ``EMAIL_*`` settings; see mail_config.py). The outbox backend here is the default in
local mode: it keeps each message in ``OutboxEmail`` so /demo/mail/ can show it, as the
telephony outbox does for texts (development or a lab only: see outboxes.py). Nothing here
logs a message body.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils.translation import gettext as _

from mfaportal.mfa.models import OutboxEmail
from mfaportal.mfa.outboxes import outbox_text, outboxes_prune

logger = logging.getLogger(__name__)


class MailError(Exception):
    """The message could not be handed to the mail server."""


class OutboxEmailBackend(BaseEmailBackend):
    """Stores every message, one row per recipient, instead of sending it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        outboxes_prune()
        rows = []
        for message in email_messages:
            body = outbox_text(message.body if isinstance(message.body, str) else str(message.body))
            for recipient in message.recipients():
                rows.append(
                    OutboxEmail(
                        from_address=str(message.from_email or "")[:320],
                        to_address=recipient.strip().lower()[:320],
                        subject=str(message.subject)[:255],
                        body=body,
                    )
                )
        OutboxEmail.objects.bulk_create(rows)
        return len(email_messages)


def code_email_send(*, address: str, code: str, purpose: str, **kwargs: Any) -> None:
    """Mail a verification code. Raises MailError when the server refuses or is away."""
    if purpose == "password_reset":
        subject = _("Your MFA Portal password reset code")
        intro = _("Use this code to reset the password of your MFA Portal account:")
    else:
        subject = _("Verify your email address for MFA Portal")
        intro = _("Use this code to verify this address as your authentication email:")
    body = "\n\n".join(
        [
            intro,
            code,
            _("It expires in 10 minutes and works once."),
            _(
                "If you didn't ask for it, you can ignore this message: nothing changes until "
                "the code is entered. Someone may have typed your address by mistake."
            ),
            _("MFA Portal — %(tenant)s") % {"tenant": settings.MFAPORTAL_TENANT_NAME},
        ]
    )
    try:
        send_mail(subject, body, None, [address], fail_silently=False, **kwargs)
    except Exception as error:  # smtplib, socket and backend errors alike
        logger.warning("mail to an authentication email not sent: %s", type(error).__name__)
        raise MailError(str(type(error).__name__)) from error
