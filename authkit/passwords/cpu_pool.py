"""CPUPool: a few low-priority threads for work that holds a core (bcrypt).

bcrypt releases the GIL, so hashes run in parallel in threads. Starlette's
`run_in_threadpool` would give each waiting request its own thread (anyio allows
40): under a sign-in flood dozens of hashes then share the cores, all of them
finish late, and the event loop thread gets a one-in-forty share of the CPU, so
`/auth/me` waits behind them. This pool has one thread per core the process may
use; and on Linux its threads run at a lower priority (nice +10), so whenever the
event loop has work it gets the core first and bcrypt uses what is left.
Database calls keep Starlette's pool: they wait, they do not compute.

The work waiting is bounded (`max_waiting`, AUTHKIT_PASSWORD_QUEUE): with every
thread busy and that many requests waiting, the next one gets `Overloaded` (503
with Retry-After) at once. Waiting longer helps nobody: each request added to a
full queue makes every later one later, and its client has likely given up. A
request `reserve()`s its place before its first database write, so a shed
request has written nothing; work outside a reservation reserves for itself.
Work whose client went away while it waited (`unless`) is dropped before it
starts: a thread never hashes for nobody.

Example:

    import bcrypt

    pool = CPUPool(max_waiting=64)      # threads = the cores this process may run on
    digest = await pool.run(bcrypt.hashpw, b"correct horse", bcrypt.gensalt(10))
    pool.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from authkit.core.errors import ClientGone, Overloaded
from authkit.passwords.priority_executor import PriorityExecutor

__all__ = ["CPUPool", "usable_cpus"]

T = TypeVar("T")
# Linux's CFS gives a nice-10 thread about a tenth of the weight of a nice-0 one.
_BACKGROUND_NICENESS = 10
# The pools whose places the running request holds (`CPUPool.reserve`), with the priority
# its work runs at in each.
_reserved_here: ContextVar[tuple[tuple[int, int], ...]] = ContextVar(
    "authkit_cpu_reserved", default=()
)


def usable_cpus() -> int:
    """The cores this process may run on (its affinity: `taskset`, cgroup cpusets)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _lower_this_threads_priority(niceness: int) -> None:
    # On Linux a thread id names one thread for setpriority(); elsewhere it would renice
    # the whole process, event loop included, which is the opposite of the point.
    if not sys.platform.startswith("linux") or niceness <= 0:
        return
    # A sandbox may forbid it: the pool still works, at equal priority.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)


class CPUPool:
    def __init__(
        self,
        threads: int | None = None,
        *,
        niceness: int = _BACKGROUND_NICENESS,
        max_waiting: int | None = None,
    ) -> None:
        self.threads = threads or usable_cpus()
        # None: unbounded (a pool of one's own, tests); the app passes AUTHKIT_PASSWORD_QUEUE.
        self.max_waiting = max_waiting
        self._niceness = niceness
        self._executor: PriorityExecutor | None = None
        self._lock = threading.Lock()
        self._places_taken = 0

    @property
    def capacity(self) -> int | None:
        """Requests that may hold a place at once: one per thread, plus those waiting."""
        return None if self.max_waiting is None else self.threads + self.max_waiting

    @property
    def places_taken(self) -> int:
        return self._places_taken

    @contextlib.contextmanager
    def reserve(self, share: float = 1.0, *, priority: int = 0) -> Iterator[None]:
        """Hold a place for the work of this request, or raise Overloaded when none is left.

        `share` of the places at most may be taken when this one is asked for: work given a
        smaller share (sign-ups) cannot fill the places the rest (sign-ins) may use. Work run
        while a place is held (in this task) takes no place of its own, and waits for a
        thread behind all work of a lower `priority` number (sign-ins: 0, sign-ups: 1).
        """
        key = id(self)
        if any(held == key for held, _ in _reserved_here.get()):
            yield
            return
        with self._lock:
            capacity = self.capacity
            if capacity is not None and self._places_taken >= max(1, int(capacity * share)):
                raise Overloaded()
            self._places_taken += 1
        token = _reserved_here.set((*_reserved_here.get(), (key, priority)))
        try:
            yield
        finally:
            _reserved_here.reset(token)
            with self._lock:
                self._places_taken -= 1

    def _started(self) -> PriorityExecutor:
        # Made on first use, and again after close(): an application can be started twice
        # (tests run its lifespan more than once).
        with self._lock:
            if self._executor is None:
                self._executor = PriorityExecutor(
                    self.threads,
                    "authkit-cpu",
                    initializer=_lower_this_threads_priority,
                    initargs=(self._niceness,),
                )
            return self._executor

    def _priority_here(self) -> int:
        key = id(self)
        return next((priority for held, priority in _reserved_here.get() if held == key), 0)

    async def run(
        self,
        fn: Callable[..., T],
        *args: object,
        unless: Callable[[], Awaitable[object]] | None = None,
    ) -> T:
        """`fn(*args)` in a pool thread. `unless` returns when the client has gone away: work
        still waiting for a thread then never starts (ClientGone); work already running ends."""
        with self.reserve():
            job = (self._executor or self._started()).submit(
                functools.partial(fn, *args), priority=self._priority_here()
            )
            work = asyncio.wrap_future(job)
            if unless is not None:
                gone = asyncio.ensure_future(unless())
                try:
                    await asyncio.wait((work, gone), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    gone.cancel()
                # The executor's cancel() succeeds only while the job still waits for a thread.
                if not work.done() and job.cancel():
                    raise ClientGone()
            # A job already running ends; its place is held until then, so the bound counts it.
            return await work

    def close(self) -> None:
        """Stop the threads; work still queued is dropped (its callers are gone)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown()
