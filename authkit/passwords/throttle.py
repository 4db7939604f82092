"""Failed sign-ins, counted per account and per client address, or per trusted device,
over a sliding window.

Each failure is one small document in MongoDB (`signin_failures`), so every
worker and every host sees the same counts, and a TTL index removes it once
no window can count it any more. Before checking a password the sign-in
`begin()`s an attempt: it writes the attempt's document first, then counts
the others; when either count has reached its limit the answer is 429 with
`Retry-After`, the attempt is taken back, and no bcrypt work is done. Because
the write comes before the read, requests in flight at once see each other:
sixty parallel guesses at an account limited to ten get ten password checks.
The attempt's document becomes the failure when the password is wrong, and is
removed when it is right. Both counts come from one query.

A successful sign-in clears only the failures of that account *from that
address*: the user who mistyped is not left on the edge of a lock-out, while
failures an attacker caused from elsewhere keep counting, and an attacker
cannot wipe their own address's count by signing in to an account of theirs.
When the check saw no such failures the success removes only its own attempt;
a failure from the same address recorded during that sign-in's password check
then stays counted.

A sign-in from a trusted device (one that presented a valid device token for the
account, authkit.passwords.devices) is counted apart: against its own `per_device` limit
only, and never against the account's or the address's. So a stranger's guesses, however
many and from wherever, fill the limits for untrusted sources and cannot lock out a
client the owner has signed in from before; the owner's own device is stopped by its own
failures alone. The account and address limits count untrusted attempts only: a device's
mistakes do not lock out the owner's other clients either.

Why not the `limits` package: its MongoDB storage opens its own client from a
URI (outside our timeouts and 503 handling, and out of reach of mongomock in
the unit tests), and it counts hits, where we count only failures and must
forget some of them on success.

Example:

    throttle = SigninThrottle(db["signin_failures"], per_account=Limit(10, 900),
                              per_address=Limit(100, 900), per_device=Limit(10, 900))
    attempt = await throttle.begin("alice", "203.0.113.9")  # .check.retry_after: None, or s
    # or, from a trusted device: await throttle.begin("alice", "203.0.113.9", device=dev_id)
    ...  # check the password; if it was right:
    await throttle.succeeded(attempt)
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from authkit.passwords.slots import AttemptSlots
from authkit.storage.database import call_database

__all__ = ["NOT_THROTTLED", "Attempt", "Limit", "SigninThrottle", "ThrottleCheck"]


@attrs.frozen
class Limit:
    """At most `failures` failed sign-ins within `window_seconds`."""

    failures: int
    window_seconds: int

    def __str__(self) -> str:
        return f"{self.failures} failures per {self.window_seconds} s"


@attrs.frozen
class ThrottleCheck:
    """What `SigninThrottle.check` found before a password is checked."""

    # Seconds until this account may try again from this address; None: it may now.
    retry_after: int | None
    # Failures of this account from this address inside the window: a success clears them.
    failures_here: bool


# What a check finds when no limit is set, or none is near.
NOT_THROTTLED = ThrottleCheck(retry_after=None, failures_here=False)


@attrs.frozen
class Attempt:
    """A sign-in attempt counted before its password is checked (`SigninThrottle.begin`)."""

    account: str
    address: str
    check: ThrottleCheck
    # The attempt's own document, counted as a failure until `succeeded` removes it;
    # None when no limit is set (nothing was written).
    record_id: ObjectId | None = None
    # The trusted device it came from (its id, from a verified device token), or None.
    device: str | None = None


# An attempt still marked pending this long after it began is taken for a failure: the
# process checking its password went away without saying how it ended.
_PENDING_FOR_AT_MOST = 60.0
# How long an attempt waits for attempts in flight to finish, when they alone (not
# failures) fill a limit: a burst of right passwords for one account gets through.
_WAIT_FOR_IN_FLIGHT = 5.0


def _without(query: dict[str, Any], record_id: ObjectId | None) -> dict[str, Any]:
    return query if record_id is None else {**query, "_id": {"$ne": record_id}}


def _settled(query: dict[str, Any], now: float) -> dict[str, Any]:
    """`query`, less the attempts still in flight (failures, and stale pending ones, stay)."""
    in_flight = {"pending": True, "at": {"$gte": now - _PENDING_FOR_AT_MOST}}
    return {"$and": [query, {"$nor": [in_flight]}]}


# Limits of thousands (a large NAT) must not make every check read thousands of documents.
_MOST_READ_AT_ONCE = 200


def _either_window(limits: list[tuple[str, str, Limit]], now: float) -> dict[str, Any]:
    return {
        "$or": [
            {field: value, "at": {"$gt": now - limit.window_seconds}}
            for field, value, limit in limits
        ]
    }


# The limits for untrusted sources count the attempts that came without a device.
_UNTRUSTED: dict[str, Any] = {"device": {"$exists": False}}


def _scoped(query: dict[str, Any], device: str | None) -> dict[str, Any]:
    # Beside the query's own fields, not under an $and: the planner keeps its indexes.
    return query if device is not None else {**query, **_UNTRUSTED}


def _newest_failures(
    failures: Collection[dict[str, Any]], query: dict[str, Any], room: int
) -> list[dict[str, Any]]:
    projection = {"_id": 0, "account": 1, "address": 1, "device": 1, "at": 1}
    return list(failures.find(query, projection).sort("at", DESCENDING).limit(room))


def _wait_within(
    found: list[dict[str, Any]], field: str, value: str, limit: Limit, now: float
) -> float | None:
    """Seconds until `limit` frees up, from a newest-first list holding all it counts."""
    start = now - limit.window_seconds
    counted = [f["at"] for f in found if f.get(field) == value and f["at"] > start]
    if len(counted) < limit.failures:
        return None
    return float(counted[limit.failures - 1]) + limit.window_seconds - now


class SigninThrottle:
    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        *,
        per_account: Limit | None,
        per_address: Limit | None,
        per_device: Limit | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._failures = collection
        self.per_account = per_account
        self.per_address = per_address
        # None: no device is trusted, every attempt counts against the other two limits.
        self.per_device = per_device
        self._clock = clock
        self._indexes_ready = False
        self._slots = AttemptSlots(
            per_account=None if per_account is None else per_account.failures,
            per_address=None if per_address is None else per_address.failures,
            per_device=None if per_device is None else per_device.failures,
        )

    def slot(
        self, account: str, address: str, device: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold this for the whole attempt, `begin` to `succeeded` or `failed`: attempts of
        one account beyond a limit's worth wait here, in this process, not in the database.
        A trusted device's attempts wait for that device's only, never behind a stranger's.
        """
        return self._slots.hold(account, address, self._trusted(device))

    def _trusted(self, device: str | None) -> str | None:
        return device if self.per_device is not None and self.enabled else None

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
        if self.per_device is not None:
            await call_database(
                self._failures.create_index, [("device", ASCENDING), ("at", DESCENDING)]
            )
        await call_database(self._failures.create_index, "expires", expireAfterSeconds=0)
        self._indexes_ready = True

    async def begin(self, account: str, address: str, device: str | None = None) -> Attempt:
        """Count an attempt, then check the limits; refused attempts are not counted.

        The attempt is written before the check reads, and before any password work:
        requests in flight at once see each other, so however many arrive together, no
        more than a limit's room get past it. The record stays as the failure unless the
        attempt `succeeded`; a refused one (`check.retry_after` set) is taken back.
        `device`, the id of a verified device token, makes it a trusted device's attempt,
        checked against that device's limit alone.
        """
        device = self._trusted(device)
        if not self.enabled:
            return Attempt(account, address, NOT_THROTTLED)
        deadline = time.monotonic() + _WAIT_FOR_IN_FLIGHT
        backoff = 0.05
        while True:
            record_id = await self._record(account, address, device, pending=True)
            check = await self.check(account, address, device=device, exclude=record_id)
            if check.retry_after is None:
                return Attempt(account, address, check, record_id, device)
            await call_database(self._failures.delete_one, {"_id": record_id})
            # Over a limit. Failures alone: refused. Attempts in flight fill it (a burst of
            # sign-ins to one account): wait for them, out of their count, and try again.
            settled = await self.check(account, address, device=device, settled_only=True)
            if settled.retry_after is not None:
                return Attempt(account, address, settled, device=device)
            if time.monotonic() > deadline:
                return Attempt(
                    account, address, attrs.evolve(settled, retry_after=1), device=device
                )
            # Jittered and growing, so that many waiters (other processes' bursts) thin out.
            await asyncio.sleep(random.uniform(backoff / 2, backoff))  # noqa: S311 - jitter
            backoff = min(backoff * 2, 0.8)

    async def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the attempt's record stays, as a failure now."""
        if attempt.record_id is not None:
            await call_database(
                self._failures.update_one, {"_id": attempt.record_id}, {"$unset": {"pending": ""}}
            )

    async def withdraw(self, attempt: Attempt) -> None:
        """No password was judged (the work was shed, or its client left): the attempt's
        record goes, as neither a failure nor a success."""
        if attempt.record_id is not None:
            await call_database(self._failures.delete_one, {"_id": attempt.record_id})

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the attempt is no failure, and this address is forgiven."""
        if attempt.record_id is None:
            return
        await call_database(self._failures.delete_one, {"_id": attempt.record_id})
        if attempt.check.failures_here:
            await self.record_success(attempt.account, attempt.address, attempt.device)

    async def check(
        self,
        account: str,
        address: str,
        *,
        device: str | None = None,
        exclude: ObjectId | None = None,
        settled_only: bool = False,
    ) -> ThrottleCheck:
        """Whether this account may try now from this address (or this trusted device), and
        what a success must clear.

        `exclude` is the caller's own attempt (`begin`), which counts for the others only;
        `settled_only` leaves out attempts still in flight, to count failures alone.
        """
        now = self._clock()
        device = self._trusted(device)
        limits = self._limits(account, address, device)
        if not limits:
            return NOT_THROTTLED
        # One query for both limits: the union of their windows, newest first, at most as many
        # documents as the two limits together. Short of that, it holds every failure either
        # limit counts, so both counts are exact (the usual case: no failures, one round trip).

        def narrow(query: dict[str, Any]) -> dict[str, Any]:
            query = _scoped(_without(query, exclude), device)
            return _settled(query, now) if settled_only else query

        room = min(sum(limit.failures for _, _, limit in limits), _MOST_READ_AT_ONCE)
        found: list[dict[str, Any]] = await call_database(
            _newest_failures, self._failures, narrow(_either_window(limits, now)), room
        )
        waits = [_wait_within(found, field, value, limit, now) for field, value, limit in limits]
        if len(found) == room:
            # Cut short. A limit the cut shows reached is exact (the cut keeps the newest); one
            # it shows below may have more failures past the cut: its own query, or 429s would
            # be missed or Retry-After be short.
            waits = [
                wait if wait is not None else await self._wait(field, value, limit, now, narrow)
                for wait, (field, value, limit) in zip(waits, limits, strict=True)
            ]
        longest = max((w for w in waits if w is not None), default=None)
        here = (
            [f for f in found if f.get("device") == device]
            if device is not None
            else [f for f in found if f.get("account") == account and f.get("address") == address]
        )
        return ThrottleCheck(
            retry_after=None if longest is None else max(1, math.ceil(longest)),
            failures_here=bool(here),
        )

    async def retry_after(
        self, account: str, address: str, device: str | None = None
    ) -> int | None:
        """Seconds until this account may try again from this address (or this trusted
        device); None when it may now."""
        return (await self.check(account, address, device=device)).retry_after

    def _limits(
        self, account: str, address: str, device: str | None
    ) -> list[tuple[str, str, Limit]]:
        if device is not None and self.per_device is not None:
            return [("device", device, self.per_device)]
        return [
            (field, value, limit)
            for field, value, limit in (
                ("account", account, self.per_account),
                ("address", address, self.per_address),
            )
            if limit is not None
        ]

    async def _wait(
        self,
        field: str,
        value: str,
        limit: Limit,
        now: float,
        narrow: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> float | None:
        # The limit-th most recent failure inside the window: until it leaves the
        # window, the count stays at the limit.
        window = {field: value, "at": {"$gt": now - limit.window_seconds}}
        cursor = (
            self._failures.find(narrow(window), {"at": 1})
            .sort("at", DESCENDING)
            .skip(limit.failures - 1)
            .limit(1)
        )
        found: list[dict[str, Any]] = await call_database(list, cursor)
        if not found:
            return None
        return float(found[0]["at"]) + limit.window_seconds - now

    async def record_failure(self, account: str, address: str, device: str | None = None) -> None:
        if self.enabled:
            await self._record(account, address, self._trusted(device))

    async def _record(
        self, account: str, address: str, device: str | None, *, pending: bool = False
    ) -> ObjectId:
        await self.ensure_indexes()
        now = self._clock()
        longest = max(
            limit.window_seconds
            for limit in (self.per_account, self.per_address, self.per_device)
            if limit
        )
        expires = datetime.fromtimestamp(now, tz=timezone.utc) + timedelta(seconds=longest)
        record_id = ObjectId()
        doc: dict[str, Any] = {"_id": record_id, "account": account, "address": address, "at": now}
        if device is not None:
            doc["device"] = device
        if pending:
            doc["pending"] = True
        await call_database(self._failures.insert_one, {**doc, "expires": expires})
        return record_id

    async def clear_account(self, account: str) -> int:
        """Forget every failure of `account`, from every address and device: an
        administrator's unlock (authkit.admin). Attempts in flight end as their passwords
        say. How many failures went."""
        here = _settled({"account": account}, self._clock())
        result = await call_database(self._failures.delete_many, here)
        return int(result.deleted_count)

    async def record_success(self, account: str, address: str, device: str | None = None) -> None:
        """Forget this account's failures from this address, or this trusted device's (a
        caller that checked first can skip this when `ThrottleCheck.failures_here` is False:
        there is nothing to forget)."""
        if self.enabled:
            device = self._trusted(device)
            source = (
                {"device": device}
                if device is not None
                else _scoped({"account": account, "address": address}, None)
            )
            # Attempts still in flight from there stay: each ends as its own password says.
            here = _settled(source, self._clock())
            await call_database(self._failures.delete_many, here)
