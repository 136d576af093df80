"""Typed errors for Graph and the identity platform.

Callers decide on the class (or on ``code``, Graph's ``error.code``), never on the message:
Microsoft rewords messages freely. No error ever carries a token or a secret.
"""

from __future__ import annotations

from typing import Any

# Graph's codes for "your delta token is no good any more: start a full sync", lower-cased:
# the errors page writes syncStateNotFound, real Graph has answered SyncStateNotFound.
DELTA_RESYNC_CODES = frozenset({"syncstatenotfound", "resyncrequired"})


class GraphError(Exception):
    """A request to Graph failed. ``status`` is None when no HTTP answer came back."""

    def __init__(
        self,
        status: int | None,
        code: str,
        message: str,
        request_id: str | None = None,
        *,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.url = url
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method and self.url else ""
        status = self.status if self.status is not None else "no answer"
        request = f" [request-id {self.request_id}]" if self.request_id else ""
        return f"Graph {status} {self.code}: {self.message}{where}{request}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )

    @property
    def retryable(self) -> bool:
        return isinstance(self, GraphThrottled | GraphUnavailable | GraphTimeout)


class GraphThrottled(GraphError):
    """429 still answered after every allowed retry."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class GraphNotFound(GraphError):
    """404: the user, method or object does not exist (any more)."""


class GraphForbidden(GraphError):
    """403, e.g. ``Authorization_RequestDenied``: the app lacks a permission or role."""


class GraphUnauthorized(GraphError):
    """401, e.g. ``InvalidAuthenticationToken``."""


class GraphBadRequest(GraphError):
    """400 and other refusals of the request itself (bad value, conflict...)."""


class GraphUnavailable(GraphError):
    """503/5xx, or the connection failed, after every allowed retry."""


class GraphTimeout(GraphError):
    """No answer in time (client-side timeout or 504) after every allowed retry."""


class DeltaTokenExpired(GraphError):
    """The stored deltaLink is no longer valid: syncStateNotFound or resyncRequired in any
    case, or a bare 410 Gone (the delta query overview's "Synchronization reset").

    The caller must drop it and run a full sync.
    """


class TokenError(GraphError):
    """The identity platform refused to issue a token (``error`` / ``error_description``)."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.error = error
        self.error_description = description
        super().__init__(status, error, description, correlation_id)

    def __str__(self) -> str:
        return f"token request refused: {self.code}: {self.message}"


class AuthFlowError(Exception):
    """A staff sign-in answer failed validation; the sign-in must start again."""

    code = "auth_flow_error"


class AuthStateMismatch(AuthFlowError):
    """The ``state`` coming back does not match the flow started (CSRF or a stale tab)."""

    code = "state_mismatch"


class AuthNonceMismatch(AuthFlowError):
    """The id token's nonce does not match the flow started (replayed id token)."""

    code = "nonce_mismatch"


_ERRORS_BY_STATUS: dict[int, type[GraphError]] = {
    400: GraphBadRequest,
    401: GraphUnauthorized,
    403: GraphForbidden,
    404: GraphNotFound,
    409: GraphBadRequest,
    429: GraphThrottled,
    500: GraphUnavailable,
    502: GraphUnavailable,
    503: GraphUnavailable,
    504: GraphTimeout,
}


def parse_error_body(body: Any) -> tuple[str, str, str | None]:
    """(code, message, request-id) from Microsoft's ``{"error": {...}}`` shape, tolerantly."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        inner = error.get("innerError") or error.get("innererror") or {}
        request_id = inner.get("request-id") if isinstance(inner, dict) else None
        return (
            str(error.get("code") or "unknown"),
            str(error.get("message") or ""),
            request_id if isinstance(request_id, str) else None,
        )
    return "unknown", "", None


def error_for_response(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    method: str | None = None,
    url: str | None = None,
    retry_after: float | None = None,
) -> GraphError:
    """The typed exception for a failed Graph answer (status + decoded JSON body)."""
    code, message, body_request_id = parse_error_body(body)
    if code == "unknown" and not message:
        message = f"HTTP {status} without a Graph error body"
    request_id = request_id or body_request_id
    kwargs: dict[str, Any] = {"method": method, "url": url}
    if code.lower() in DELTA_RESYNC_CODES:
        return DeltaTokenExpired(status, code, message, request_id, **kwargs)
    error_class = _ERRORS_BY_STATUS.get(status)
    if error_class is None:
        error_class = GraphUnavailable if status >= 500 else GraphError
    if error_class is GraphThrottled:
        return GraphThrottled(status, code, message, request_id, retry_after=retry_after, **kwargs)
    return error_class(status, code, message, request_id, **kwargs)
