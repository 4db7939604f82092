"""Races on a real database server: `race_on_server(uri, db, attempt)` runs `attempt` in RACERS
threads at once, each with a client of its own, released together by a barrier; `finish`
drives one coroutine of a store's API to its end from a test's thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pymongo import MongoClient
from pymongo.database import Database

__all__ = ["RACERS", "finish", "race_on_server"]

T = TypeVar("T")
RACERS = 8


def finish(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def race_on_server(
    mongo_uri: str, db_name: str, attempt: Callable[[Database[dict[str, Any]]], T]
) -> list[T]:
    barrier = threading.Barrier(RACERS)

    def one(_: int) -> T:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        try:
            barrier.wait(timeout=30)
            return attempt(client[db_name])
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(one, range(RACERS)))
