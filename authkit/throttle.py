"""Failed sign-ins, counted per account and per client address, over a sliding window.

Each failure is one small document in MongoDB (`signin_failures`), so every
worker and every host sees the same counts, and a TTL index removes it once
no window can count it any more. Before checking a password the local
strategy asks `retry_after()`: when either count has reached its limit the
answer is 429 with `Retry-After`, and no bcrypt work is done.

A successful sign-in clears only the failures of that account *from that
address*: the user who mistyped is not left on the edge of a lock-out, while
failures an attacker caused from elsewhere keep counting, and an attacker
cannot wipe their own address's count by signing in to an account of theirs.

Why not the `limits` package: its MongoDB storage opens its own client from a
URI (outside our timeouts and 503 handling, and out of reach of mongomock in
the unit tests), and it counts hits, where we count only failures and must
forget some of them on success.

Example:

    throttle = SigninThrottle(db["signin_failures"], per_account=Limit(10, 900),
                              per_address=Limit(100, 900))
    wait = await throttle.retry_after("alice", "203.0.113.9")     # None, or seconds
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from authkit.database import call_database

__all__ = ["Limit", "SigninThrottle"]


@attrs.frozen
class Limit:
    """At most `failures` failed sign-ins within `window_seconds`."""

    failures: int
    window_seconds: int

    def __str__(self) -> str:
        return f"{self.failures} failures per {self.window_seconds} s"


class SigninThrottle:
    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        *,
        per_account: Limit | None,
        per_address: Limit | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._failures = collection
        self.per_account = per_account
        self.per_address = per_address
        self._clock = clock
        self._indexes_ready = False

    @property
    def enabled(self) -> bool:
        return self.per_account is not None or self.per_address is not None

    async def ensure_indexes(self) -> None:
        if self._indexes_ready or not self.enabled:
            return
        await call_database(
            self._failures.create_index, [("account", ASCENDING), ("at", DESCENDING)]
        )
        await call_database(
            self._failures.create_index, [("address", ASCENDING), ("at", DESCENDING)]
        )
        await call_database(self._failures.create_index, "expires", expireAfterSeconds=0)
        self._indexes_ready = True

    async def retry_after(self, account: str, address: str) -> int | None:
        """Seconds until this account may try again from this address; None when it may now."""
        now = self._clock()
        waits = [
            await self._wait(field, value, limit, now)
            for field, value, limit in (
                ("account", account, self.per_account),
                ("address", address, self.per_address),
            )
            if limit is not None
        ]
        longest = max((w for w in waits if w is not None), default=None)
        return None if longest is None else max(1, math.ceil(longest))

    async def _wait(self, field: str, value: str, limit: Limit, now: float) -> float | None:
        # The limit-th most recent failure inside the window: until it leaves the
        # window, the count stays at the limit.
        cursor = (
            self._failures.find(
                {field: value, "at": {"$gt": now - limit.window_seconds}}, {"at": 1}
            )
            .sort("at", DESCENDING)
            .skip(limit.failures - 1)
            .limit(1)
        )
        found: list[dict[str, Any]] = await call_database(list, cursor)
        if not found:
            return None
        return float(found[0]["at"]) + limit.window_seconds - now

    async def record_failure(self, account: str, address: str) -> None:
        if not self.enabled:
            return
        await self.ensure_indexes()
        now = self._clock()
        longest = max(
            limit.window_seconds for limit in (self.per_account, self.per_address) if limit
        )
        expires = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(seconds=longest)
        doc = {"_id": ObjectId(), "account": account, "address": address, "at": now}
        await call_database(self._failures.insert_one, {**doc, "expires": expires})

    async def record_success(self, account: str, address: str) -> None:
        if self.enabled:
            await call_database(
                self._failures.delete_many, {"account": account, "address": address}
            )
