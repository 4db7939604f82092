"""PriorityExecutor: a fixed set of threads taking work in order of priority, then arrival.

concurrent.futures' ThreadPoolExecutor serves its queue first in, first out. The password
pool needs an order of its own: a person signing in should not wait behind a flood of
sign-ups that arrived first (CPUPool gives sign-ups the lower priority). The futures are
`concurrent.futures.Future`s, so `cancel()` drops work still waiting, as there.

Example:

    executor = PriorityExecutor(2, "demo")
    later = executor.submit(lambda: "sign-up", priority=1)
    sooner = executor.submit(lambda: "sign-in", priority=0)
    assert sooner.result(timeout=5) == "sign-in" and later.result(timeout=5) == "sign-up"
    executor.shutdown()
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["PriorityExecutor"]

T = TypeVar("T")
# Ahead of any work: a thread told to stop takes that before anything still queued.
_STOP_FIRST = -1
_Item = tuple[int, int, "Future[Any] | None", "Callable[[], Any] | None"]


class PriorityExecutor:
    def __init__(
        self,
        threads: int,
        name: str,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[object, ...] = (),
    ) -> None:
        self._queue: queue.PriorityQueue[_Item] = queue.PriorityQueue()
        self._order = itertools.count()  # ties keep their arrival order; futures never compare
        self._initializer = initializer
        self._initargs = initargs
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T], *, priority: int = 0) -> Future[T]:
        """Run `fn` on a thread once no work of a lower `priority` number is waiting."""
        if self._closed:
            raise RuntimeError("cannot submit work after shutdown")
        future: Future[T] = Future()
        self._queue.put((priority, next(self._order), future, fn))
        return future

    def shutdown(self) -> None:
        """Drop the work still waiting (cancelled) and stop each thread after its current job."""
        self._closed = True
        while True:
            try:
                _, _, future, _ = self._queue.get_nowait()
            except queue.Empty:
                break
            if future is not None:
                future.cancel()
        for _ in self._threads:
            self._queue.put((_STOP_FIRST, next(self._order), None, None))

    def _serve(self) -> None:
        if self._initializer is not None:
            self._initializer(*self._initargs)
        while True:
            _, _, future, fn = self._queue.get()
            if future is None or fn is None:
                return
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited: its client went away
            try:
                result = fn()
            except BaseException as exc:  # handed to whoever awaits the future
                future.set_exception(exc)
            else:
                future.set_result(result)
