"""Sign-ups counted per client address over a sliding window: beyond the limit, 429.

A sign-up costs a bcrypt hash and leaves an account behind, so one machine must not
make them by the hundred. Each sign-up that reaches its password work writes a small
document in MongoDB (`signup_attempts`) *before* it counts the others, as the sign-in
throttle does (authkit.passwords.throttle): requests in flight at once see each other,
every worker and host shares the count, and a TTL index deletes a document once no
window can count it. A refused sign-up takes its document back, so a client that keeps
trying does not keep itself locked out; so does one whose client went away before its
account was written.

Example:

    from authkit.passwords.throttle import Limit

    limit = SignupLimit(db["signup_attempts"], Limit(30, 3600))
    record = await limit.begin("203.0.113.9")  # TooManyRequests when over the limit
    ...  # hash the password, write the account; if the client went away instead:
    await limit.take_back(record)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from authkit.core.errors import TooManyRequests
from authkit.passwords.throttle import Limit
from authkit.storage.database import call_database

__all__ = ["SignupLimit"]


def _newest_others(
    attempts: Collection[dict[str, Any]], address: str, since: float, mine: ObjectId, room: int
) -> list[dict[str, Any]]:
    query = {"address": address, "at": {"$gt": since}, "_id": {"$ne": mine}}
    return list(attempts.find(query, {"_id": 0, "at": 1}).sort("at", DESCENDING).limit(room))


class SignupLimit:
    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        per_address: Limit | None,
        *,
        clock: Callable[[], float] = time.time,
        refusal: str = "Too many sign-ups from this address",
    ) -> None:
        self._attempts = collection
        self.per_address = per_address
        # What a refused client reads, before "; try again in N seconds" (other counts
        # made the same way, such as mail sent to one address, say what they count).
        self._refusal = refusal
        self._clock = clock
        self._indexes_ready = False

    async def ensure_indexes(self) -> None:
        if self._indexes_ready or self.per_address is None:
            return
        await call_database(
            self._attempts.create_index, [("address", ASCENDING), ("at", DESCENDING)]
        )
        await call_database(self._attempts.create_index, "expires", expireAfterSeconds=0)
        self._indexes_ready = True

    async def begin(self, address: str) -> ObjectId | None:
        """Count a sign-up from `address`, or raise TooManyRequests (counting nothing).

        Returns the attempt's record (None when the limit is off), for `take_back`.
        """
        limit = self.per_address
        if limit is None:
            return None
        await self.ensure_indexes()
        now = self._clock()
        record_id = ObjectId()
        expires = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(
            seconds=limit.window_seconds
        )
        doc = {"_id": record_id, "address": address, "at": now, "expires": expires}
        await call_database(self._attempts.insert_one, doc)
        since = now - limit.window_seconds
        others: list[dict[str, Any]] = await call_database(
            _newest_others, self._attempts, address, since, record_id, limit.failures
        )
        if len(others) < limit.failures:
            return record_id
        await self.take_back(record_id)
        # Until the limit-th newest of the others leaves the window, the count stays full.
        wait = max(1, math.ceil(float(others[-1]["at"]) + limit.window_seconds - now))
        raise TooManyRequests(wait, f"{self._refusal}; try again in {wait} seconds")

    async def take_back(self, record_id: ObjectId | None) -> None:
        """Uncount a sign-up that did not happen (its client went away first)."""
        if record_id is not None:
            await call_database(self._attempts.delete_one, {"_id": record_id})
