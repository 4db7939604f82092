"""authkit.cpu_pool.CPUPool: bcrypt's threads, one per usable core, below the event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from authkit.passwords.cpu_pool import CPUPool, usable_cpus
from authkit.passwords.hasher import PasswordHasher


def test_one_thread_per_core_the_process_may_use() -> None:
    assert CPUPool().threads == usable_cpus() >= 1
    if hasattr(os, "sched_getaffinity"):
        assert usable_cpus() == len(os.sched_getaffinity(0))


@pytest.mark.anyio
async def test_work_runs_off_the_event_loop_thread_in_at_most_n_threads() -> None:
    pool = CPUPool(threads=2)
    loop_thread = threading.get_ident()
    gate = threading.Barrier(2, timeout=5)

    def work(n: int) -> int:
        if n < 2:
            gate.wait()  # the first two run at once: two threads
        return threading.get_ident()

    try:
        idents = await asyncio.gather(*(pool.run(work, n) for n in range(8)))
    finally:
        pool.close()
    assert loop_thread not in idents
    assert len(set(idents)) <= 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
@pytest.mark.anyio
async def test_on_linux_its_threads_yield_to_the_event_loop() -> None:
    pool = CPUPool(threads=1)
    try:
        niceness = await pool.run(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
    finally:
        pool.close()
    # Lower priority than the event loop's thread, which keeps its own.
    assert niceness > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.anyio
async def test_a_closed_pool_starts_again_when_used() -> None:
    hasher = PasswordHasher(4, pool=CPUPool(threads=1))
    stored = await hasher.hash("correct horse")
    hasher.pool.close()
    assert await hasher.verify("correct horse", stored)
    hasher.pool.close()
