"""Telephony backends: how text messages and calls leave the portal.

``MFAPORTAL_TELEPHONY`` picks one:

- ``outbox`` (default): stores each message in ``TelephonyMessage``; the phone simulator
  (/demo/phone/) shows them and lets you answer calls. Development or a lab only
  (``outboxes.py``: production refuses it, codes are masked without the simulator).
- ``console``: writes each message to standard output (development only), never to a logger.
- ``http``: POSTs JSON to ``MFAPORTAL_TELEPHONY_URL`` with ``Authorization: Bearer
  MFAPORTAL_TELEPHONY_TOKEN``; every request has a timeout, and connection errors, 429 and
  5xx are retried a bounded number of times (honouring a short ``Retry-After``). A gateway
  reports the keys pressed on a call to ``POST /telephony/calls/<challengeId>/``.

The standard library's urllib is used on purpose: only mfaportal.graph imports requests.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from mfaportal.mfa.models import TelephonyMessage
from mfaportal.mfa.outboxes import outbox_text, outboxes_prune

logger = logging.getLogger(__name__)


class TelephonyError(Exception):
    """The message could not be delivered to the gateway."""


@dataclass(frozen=True)
class Delivery:
    kind: str  # "text" or "call"
    to_number: str
    body: str
    extension: str = ""
    challenge_id: str = ""


class TelephonyBackend(Protocol):
    name: str

    def send(self, delivery: Delivery) -> None: ...


class OutboxBackend:
    name = "outbox"

    def send(self, delivery: Delivery) -> None:
        outboxes_prune()
        TelephonyMessage.objects.create(
            to_number=delivery.to_number,
            extension=delivery.extension,
            kind=delivery.kind,
            body=outbox_text(delivery.body),
            challenge_id=delivery.challenge_id or None,
        )


def outbox_call_answered(*, message: TelephonyMessage, keys: str) -> None:
    """The phone simulator answered a call in the outbox (it keeps what was pressed)."""
    TelephonyMessage.objects.filter(pk=message.pk).update(
        answered_at=timezone.now(), keys_pressed=keys[:16]
    )


class ConsoleBackend:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, delivery: Delivery) -> None:
        where = delivery.to_number + (f" ext. {delivery.extension}" if delivery.extension else "")
        self.stream.write(f"[telephony] {delivery.kind} to {where}: {delivery.body}\n")
        self.stream.flush()


RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class HttpBackend:
    name = "http"

    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("MFAPORTAL_TELEPHONY_URL must be an http(s) URL.")
        self.url = url
        self.token = token
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep

    def _request(self, payload: bytes) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return urllib.request.Request(self.url, data=payload, headers=headers, method="POST")  # noqa: S310

    def send(self, delivery: Delivery) -> None:
        payload = json.dumps(
            {
                "type": delivery.kind,
                "to": delivery.to_number,
                "extension": delivery.extension,
                "message": delivery.body,
                "challengeId": delivery.challenge_id,
            }
        ).encode()
        last_problem = ""
        for attempt in range(1, self.attempts + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                with urllib.request.urlopen(self._request(payload), timeout=self.timeout) as reply:  # noqa: S310
                    reply.read()
                return
            except urllib.error.HTTPError as error:
                last_problem = f"HTTP {error.code}"
                if error.code not in RETRYABLE_STATUS:
                    break
                retry_after = error.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    wait = min(float(retry_after), 5.0)
            except (urllib.error.URLError, TimeoutError, OSError) as error:
                last_problem = type(error).__name__
            logger.warning(
                "telephony gateway attempt %s/%s failed: %s", attempt, self.attempts, last_problem
            )
            if attempt < self.attempts:
                self.sleep(wait)
        raise TelephonyError(f"The telephony gateway refused or did not answer ({last_problem}).")


def get_telephony() -> TelephonyBackend:
    name = settings.MFAPORTAL_TELEPHONY
    if name == "outbox":
        return OutboxBackend()
    if name == "console":
        return ConsoleBackend()
    if name == "http":
        return HttpBackend(
            url=settings.MFAPORTAL_TELEPHONY_URL,
            token=settings.MFAPORTAL_TELEPHONY_TOKEN,
            timeout=settings.MFAPORTAL_TELEPHONY_TIMEOUT,
        )
    raise ImproperlyConfigured("MFAPORTAL_TELEPHONY must be outbox, console or http.")
