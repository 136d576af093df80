"""Splitting work into pieces: the one chunking helper of the project.

Lists of ids become pieces that fit a query (SQLite allows a bounded number of parameters
in one statement) or a Graph ``$batch`` (20 requests); a generator is consumed piece by
piece, never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

# Ids per query: stays under SQLite's bound-parameter limit with room for the other terms.
QUERY_CHUNK = 500


def chunked(items: Iterable[T], size: int = QUERY_CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, in order."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
