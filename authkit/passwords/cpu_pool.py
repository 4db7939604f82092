"""CPUPool: a few low-priority threads for work that holds a core (bcrypt).

bcrypt releases the GIL, so hashes run in parallel in threads. Starlette's
`run_in_threadpool` would give each waiting request its own thread (anyio allows
40): under a sign-in flood dozens of hashes then share the cores, all of them
finish late, and the event loop thread gets a one-in-forty share of the CPU, so
`/auth/me` waits behind them. This pool has one thread per core the process may
use; and on Linux its threads run at a lower priority (nice +10), so whenever the
event loop has work it gets the core first and bcrypt uses what is left.
Database calls keep Starlette's pool: they wait, they do not compute.

Example:

    import bcrypt

    pool = CPUPool()                    # threads = the cores this process may run on
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["CPUPool", "usable_cpus"]

T = TypeVar("T")
# Linux's CFS gives a nice-10 thread about a tenth of the weight of a nice-0 one.
_BACKGROUND_NICENESS = 10


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
    def __init__(self, threads: int | None = None, *, niceness: int = _BACKGROUND_NICENESS) -> None:
        self.threads = threads or usable_cpus()
        self._niceness = niceness
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _started(self) -> ThreadPoolExecutor:
        # Made on first use, and again after close(): an application can be started twice
        # (tests run its lifespan more than once).
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.threads,
                    thread_name_prefix="authkit-cpu",
                    initializer=_lower_this_threads_priority,
                    initargs=(self._niceness,),
                )
            return self._executor

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        executor = self._executor or self._started()
        return await asyncio.get_running_loop().run_in_executor(
            executor, functools.partial(fn, *args)
        )

    def close(self) -> None:
        """Stop the threads; work still queued is dropped (its callers are gone)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
