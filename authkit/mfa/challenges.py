"""MFAChallenges: the short-lived, single-use token a password sign-in hands a user with a
second factor instead of tokens (collection `mfa_challenges`).

The token is 256 random bits; only its SHA-256 is stored, with the user's id, an expiry
(five minutes) and whether it was used, so the database never holds a token that works.
`consume` is one conditional update, so of any number of requests at once exactly one gets
the user. A TTL index clears expired challenges; the expiry is checked on every read as
well, because the TTL monitor runs only once a minute.

Other capabilities (passkeys, social sign-in) open and consume challenges through this
class: a sign-in they start for a user with MFA ends here too.

Example:

    challenges = MFAChallenges(db["mfa_challenges"])
    token = await challenges.open("6650c0ffee0123456789abcd")
    await challenges.peek(token)       # "6650c0ffee0123456789abcd": valid, still unused
    await challenges.consume(token)    # the user id, once; then None
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from pymongo.collection import Collection

from authkit.storage.database import call_database

__all__ = ["CHALLENGE_TTL_SECONDS", "MFAChallenges", "challenge_key"]

CHALLENGE_TTL_SECONDS = 300
# What open() makes, with room to spare; anything else is refused unread.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


def challenge_key(token: str) -> str | None:
    """The stored key of a challenge token (its SHA-256); None for what open() never makes."""
    if not _TOKEN_SHAPE.match(token):
        return None
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class MFAChallenges:
    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        *,
        ttl_seconds: int = CHALLENGE_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._challenges = collection
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._indexes_ready = False

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=timezone.utc)

    async def ensure_indexes(self) -> None:
        if not self._indexes_ready:
            await call_database(self._challenges.create_index, "expires_at", expireAfterSeconds=0)
            self._indexes_ready = True

    async def open(self, user_id: str) -> str:
        await self.ensure_indexes()
        token = secrets.token_urlsafe(32)
        expires = self._now() + timedelta(seconds=self.ttl_seconds)
        document = {"_id": challenge_key(token), "user_id": user_id, "expires_at": expires}
        await call_database(self._challenges.insert_one, {**document, "used": False})
        return token

    def _live(self, key: str) -> dict[str, Any]:
        return {"_id": key, "used": False, "expires_at": {"$gt": self._now()}}

    async def peek(self, token: str) -> str | None:
        """The user a valid, unused challenge is for; None otherwise. Nothing is used up."""
        key = challenge_key(token)
        if key is None:
            return None
        found = await call_database(self._challenges.find_one, self._live(key), {"user_id": 1})
        return None if found is None else str(found["user_id"])

    async def consume(self, token: str) -> str | None:
        """The user, once: the challenge is used up. None when unknown, expired or used."""
        key = challenge_key(token)
        if key is None:
            return None
        found = await call_database(
            self._challenges.find_one_and_update,
            self._live(key),
            {"$set": {"used": True, "used_at": self._now()}},
            projection={"user_id": 1},
        )
        return None if found is None else str(found["user_id"])
