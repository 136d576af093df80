"""Graph calls in flight together: a bounded pool in order, and a read-ahead for pages.

Only Graph calls run on these threads; database work stays on the calling thread, which
also pulls the items, so a generator of 100k users is consumed as answers come back.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Full, Queue
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 4


def bounded_map(
    function: Callable[[T], R], items: Iterable[T], *, workers: int = DEFAULT_CONCURRENCY
) -> Iterator[tuple[T, R | BaseException]]:
    """``function`` over ``items`` in a few threads, answers in the order of ``items``.

    At most ``workers`` calls run at once and at most twice that many are queued. A call
    that raises yields its exception instead of an answer.
    """
    workers = max(1, workers)
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
