"""Fault injection and the request log, so tests can make Graph misbehave and prove what the
client did about it (how often it asked, and how long it waited in between)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["any", "request", "batch_item"]

DEFAULT_ERROR_CODES = {
    400: ("BadRequest", "The request is malformed."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource does not exist."),
    409: ("Directory_ConcurrencyViolation", "Another operation is in progress."),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "An unexpected error occurred."),
    502: ("badGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is temporarily unavailable."),
    504: ("gatewayTimeout", "The gateway timed out."),
}


@dataclass
class Fault:
    """What to do to requests whose path matches ``pattern`` (re.search on the URL path,
    version included, e.g. ``/v1.0/users``; batch items are matched as ``/beta/users/...``)."""

    pattern: re.Pattern[str]
    status: int | None = None
    retry_after: float | str | None = None
    # How many matching requests to spoil (None: all of them), after letting ``after`` pass.
    times: int | None = 1
    after: int = 0
    method: str | None = None
    # Seconds to wait before answering (longer than the client's timeout = a timeout).
    delay: float = 0.0
    # Close the connection without an answer.
    drop_connection: bool = False
    code: str | None = None
    message: str | None = None
    scope: Scope = "any"
    # For a batch-item fault: the status of the whole $batch answer when it fires (e.g. 424).
    envelope_status: int | None = None
    hits: int = 0
    seen: int = 0

    def error_body(self, request_id: str, date: str) -> dict[str, Any] | None:
        if self.status is None:
            return None
        default_code, default_message = DEFAULT_ERROR_CODES.get(
            self.status, ("UnknownError", "Error.")
        )
        inner: dict[str, Any] = {
            "date": date,
            "request-id": request_id,
            "client-request-id": request_id,
        }
        if self.status == 429:
            inner.update({"code": "429", "status": "429"})
        return {
            "error": {
                "code": self.code or default_code,
                "message": self.message or default_message,
                "innerError": inner,
            }
        }

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        value = self.retry_after
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return {"Retry-After": str(value)}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        path_regex: str,
        status: int | None = None,
        *,
        retry_after: float | str | None = None,
        times: int | None = 1,
        after: int = 0,
        method: str | None = None,
        delay: float = 0.0,
        drop_connection: bool = False,
        code: str | None = None,
        message: str | None = None,
        scope: Scope = "any",
        envelope_status: int | None = None,
    ) -> Fault:
        fault = Fault(
            pattern=re.compile(path_regex),
            status=status,
            retry_after=retry_after,
            times=times,
            after=after,
            method=method.upper() if method else None,
            delay=delay,
            drop_connection=drop_connection,
            code=code,
            message=message,
            scope=scope,
            envelope_status=envelope_status,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, *, batch_item: bool) -> Fault | None:
        """The first armed fault matching this request, counted as fired."""
        with self._lock:
            for fault in self._faults:
                if fault.scope == ("request" if batch_item else "batch_item"):
                    continue
                if fault.method and fault.method != method.upper():
                    continue
                if not fault.pattern.search(path):
                    continue
                fault.seen += 1
                if fault.seen <= fault.after:
                    continue
                if fault.times is not None and fault.hits >= fault.times:
                    continue
                fault.hits += 1
                return fault
        return None


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: Any
    # time.monotonic() when the request arrived: intervals prove the client waited.
    time: float
    status: int
    batch_item: bool = False
    fault: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class RequestLog:
    _entries: list[LoggedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def all(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def matching(
        self, path_regex: str = "", *, method: str | None = None, batch_item: bool | None = None
    ) -> list[LoggedRequest]:
        pattern = re.compile(path_regex)
        return [
            entry
            for entry in self.all()
            if pattern.search(entry.path)
            and (method is None or entry.method == method.upper())
            and (batch_item is None or entry.batch_item == batch_item)
        ]


def now() -> float:
    return time.monotonic()
