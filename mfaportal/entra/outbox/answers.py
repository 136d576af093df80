"""What Graph said about each change: accepted, refused for good, or to be tried again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from mfaportal.graph import (
    GraphError,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
    TokenError,
)

logger = logging.getLogger(__name__)


def is_definitive(error: GraphError) -> bool:
    """Graph refused the change itself (403, 400, 404...): sending it again cannot help.

    Throttling, 5xx, timeouts, lost connections and credential problems (a token refused,
    an expired client secret) are not about the change: it waits and is sent again.
    """
    if isinstance(
        error, GraphThrottled | GraphUnavailable | GraphTimeout | GraphUnauthorized | TokenError
    ):
        return False
    if error.status is None or error.status in (408, 409, 423, 429):
        return False
    return 400 <= error.status < 500


def as_graph_error(error: BaseException) -> GraphError:
    if isinstance(error, GraphError):
        return error
    logger.error("unexpected error sending outbox changes", exc_info=error)
    return GraphError(None, "clientError", f"{type(error).__name__}: {error}")


@dataclass
class Answers:
    """What Graph said about each change of a claim, by change id."""

    accepted: set[int] = field(default_factory=set)
    refused: dict[int, GraphError] = field(default_factory=dict)
    retry: dict[int, GraphError] = field(default_factory=dict)

    def add_error(self, change_id: int, error: BaseException) -> None:
        graph_error = as_graph_error(error)
        if is_definitive(graph_error):
            self.refused[change_id] = graph_error
        else:
            self.retry[change_id] = graph_error
