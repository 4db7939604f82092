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


@pytest.mark.anyio
async def test_work_of_a_lower_priority_waits_behind_work_that_came_after_it() -> None:
    # Sign-ups (priority 1) queued first, a sign-in (0) after them: the sign-in goes first.
    pool = CPUPool(threads=1)
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []

    def hold() -> bool:
        started.set()
        return gate.wait(5)

    busy = asyncio.ensure_future(pool.run(hold))
    for _ in range(500):  # until the pool's thread holds it
        if started.wait(0.01):
            break
        await asyncio.sleep(0)

    async def queued(name: str, priority: int) -> None:
        with pool.reserve(priority=priority):
            await pool.run(order.append, name)

    tasks = []
    for name, priority in [("sign-up 1", 1), ("sign-up 2", 1), ("sign-in", 0)]:
        tasks.append(asyncio.ensure_future(queued(name, priority)))
        for _ in range(3):
            await asyncio.sleep(0)  # submitted before the next one is
    gate.set()
    try:
        await asyncio.gather(busy, *tasks)
    finally:
        pool.close()
    assert order == ["sign-in", "sign-up 1", "sign-up 2"]


@pytest.mark.anyio
async def test_closing_drops_the_work_still_waiting() -> None:
    pool = CPUPool(threads=1)
    gate, started = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait(5)

    busy = asyncio.ensure_future(pool.run(hold))
    for _ in range(500):  # until the pool's thread holds it
        if started.wait(0.01):
            break
        await asyncio.sleep(0)
    waiting = asyncio.ensure_future(pool.run(int, "1"))
    for _ in range(3):
        await asyncio.sleep(0)
    pool.close()
    gate.set()
    assert await busy is True
    await asyncio.wait([waiting])
    assert waiting.cancelled()
    assert await pool.run(int, "2") == 2  # and a closed pool starts again when used
    pool.close()
