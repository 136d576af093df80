"""Reaching Graph from the directory app: the configured client and bounded concurrency."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Full, Queue
from typing import Any, TypeVar

from django.conf import settings

from mfaportal.graph import GraphClient, graph_config_from_settings

T = TypeVar("T")
R = TypeVar("R")

# Graph's limit of requests in one JSON $batch.
BATCH_SIZE = 20


def graph_client() -> GraphClient:
    """A client for the configured tenant; the MSAL application behind it is one per process."""
    return GraphClient(graph_config_from_settings())


def graph_concurrency() -> int:
    """How many Graph requests (each a $batch of up to 20) may be in flight at once."""
    return max(1, int(getattr(settings, "MFAPORTAL_GRAPH_CONCURRENCY", 4)))


def bounded_map(
    function: Callable[[T], R], items: Iterable[T], *, workers: int | None = None
) -> Iterator[tuple[T, R | BaseException]]:
    """``function`` over ``items`` in a few threads, answers in the order of ``items``.

    At most ``workers`` calls run at once and at most twice that many are queued, so a
    generator of 100k items is consumed as the answers come, never loaded whole. A call
    that raises yields its exception instead of an answer. Only Graph calls belong in
    ``function``: database work stays on the calling thread, which also pulls ``items``.
    """
    workers = workers or graph_concurrency()
    window: deque[tuple[T, Future[R]]] = deque()

    def answer(item: T, future: Future[R]) -> tuple[T, R | BaseException]:
        error = future.exception()
        return (item, error) if error is not None else (item, future.result())

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graph") as pool:
        for item in items:
            window.append((item, pool.submit(function, item)))
            if len(window) >= workers * 2:
                yield answer(*window.popleft())
        while window:
            yield answer(*window.popleft())


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def prefetched(items: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """``items`` pulled by a background thread, ``depth`` ahead of the consumer.

    For a paged Graph read: the next page travels while this one is written to the
    database. Exceptions arrive where the item would have; closing the generator stops the
    thread at its next step. Only for iterators that do no database work.
    """
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def pull() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as error:
            put(("error", error))

    thread = threading.Thread(target=pull, name="graph-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "item":
                yield value
            elif kind == "end":
                return
            else:
                raise value
    finally:
        stop.set()
        thread.join(timeout=5)
