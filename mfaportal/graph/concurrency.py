"""Graph calls in flight together: a bounded pool in order, a read-ahead for pages, and a
pace for the limits Graph publishes.

Only Graph calls run on these threads; database work stays on the calling thread, which
also pulls the items, so a generator of 100k users is consumed as answers come back.
"""

from __future__ import annotations

import contextlib
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


class ReadAhead(Iterator[T]):
    """``items`` pulled by a background thread from the moment this is made, ``depth``
    ahead of the consumer. Exceptions arrive where the item would have; ``close`` stops the
    thread at its next step. Only for iterators that do no database work."""

    def __init__(self, items: Iterator[T], *, depth: int) -> None:
        self._queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._pull, args=(items,), name="graph-prefetch", daemon=True
        )
        self._thread.start()

    def _put(self, entry: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def _pull(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._put(("item", item)):
                    return
            self._put(("end", None))
        except BaseException as error:
            self._put(("error", error))

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == "item":
            return value
        self._done = True
        self.close()
        if kind == "end":
            raise StopIteration
        raise value

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def prefetched(items: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """``items`` pulled by a background thread, ``depth`` ahead of the consumer.

    For a paged Graph read: the next page travels while this one is written to the
    database. Exceptions arrive where the item would have; closing the generator stops the
    thread at its next step. Only for iterators that do no database work.
    """
    ahead = ReadAhead(items, depth=depth)
    try:
        yield from ahead
    finally:
        ahead.close()


class Pace:
    """At most ``limit`` units in any ``window`` seconds, a sliding window, across threads.

    For limits Graph publishes per app and tenant (the reports' 5 requests per 10 seconds):
    waiting here costs the same time as a 429 would, without the 429. ``take`` blocks until
    the units fit; ``slot`` does the same around one request and counts it from when its
    answer came (Graph counts it somewhere in between). ``clock`` and ``sleep`` are the
    client's, so tests need not wait.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a pace needs a positive limit and window")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # [time, units] per request, oldest first.
        self._spent: deque[list[float]] = deque()
        self._in_window = 0.0

    def take(self, units: int = 1) -> float:
        """Wait until ``units`` more fit in the window; returns the seconds waited."""
        waited, _entry = self._take(units)
        return waited

    @contextlib.contextmanager
    def slot(self, units: int = 1) -> Iterator[None]:
        _waited, entry = self._take(units)
        try:
            yield
        finally:
            with self._lock:
                entry[0] = max(entry[0], self._clock())

    def _take(self, units: int) -> tuple[float, list[float]]:
        units = min(max(1, units), self.limit)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._spent and self._spent[0][0] <= now - self.window:
                    self._in_window -= self._spent.popleft()[1]
                if self._in_window + units <= self.limit:
                    entry = [now, float(units)]
                    self._spent.append(entry)
                    self._in_window += units
                    return waited, entry
                # The oldest entries leave the window first: wait until enough have.
                freed, until = 0.0, now
                for at, spent in self._spent:
                    freed += spent
                    until = max(until, at + self.window)
                    if self._in_window - freed + units <= self.limit:
                        break
                delay = max(0.001, until - now)
            self._sleep(delay)
            waited += delay
