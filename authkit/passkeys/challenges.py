"""WebAuthn challenges, kept by the server: random, single use, short-lived.

```
webauthn_challenges  {_id: the challenge (base64url), purpose, user_id (or None),
                      mfa_token_hash (or None), address (or None), expires_at, used}
```

`address` is the client address (authkit.http.client_address.throttle_key) of a sign-in's
options request, which anyone may make: `live_from` counts the challenges stored for that
address, so one that holds as many as it may is refused more (social sign-in's flows are
counted the same way, authkit.social.flows).

The challenge is its own id: it is no secret (the options carry it to the browser), and the
browser's signed client data names it, so a registration answer finds its challenge with no
id of its own.

A ceremony's challenge is what makes its signed answer fresh: a recorded answer replayed
later names a challenge that is used or gone. Consumption is one `find_one_and_update`
whose filter requires `used: false` and a future `expires_at`, so of two requests that
present the same answer at once exactly one gets the challenge. A TTL index empties the
collection; a challenge past `expires_at` but not yet removed is refused all the same.

Example:

    challenges = WebAuthnChallenges(db["webauthn_challenges"])
    issued = await challenges.issue("signin")
    found = await challenges.consume(issued.id, "signin")      # Issued; None the second time
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import attrs
from pymongo.collection import Collection

from authkit.storage.database import call_database

__all__ = [
    "CHALLENGE_TTL",
    "Issued",
    "Purpose",
    "WebAuthnChallenges",
    "base64url",
    "from_base64url",
    "token_hash",
]

# Long enough for a person to find their phone or touch a key; the browser's own timeout
# (the options' `timeout`) is the same.
CHALLENGE_TTL = timedelta(minutes=5)
Purpose = Literal["register", "signin", "mfa", "step_up"]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen
class Issued:
    id: str
    challenge: bytes = attrs.field(repr=False)
    purpose: Purpose
    user_id: str | None = None


class WebAuthnChallenges:
    def __init__(
        self,
        collection: Collection[dict[str, Any]],
        ttl: timedelta = CHALLENGE_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._collection = collection
        self._ttl = ttl
        self._clock = clock

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    async def ensure_indexes(self) -> None:
        await call_database(self._collection.create_index, "expires_at", expireAfterSeconds=0)
        await call_database(self._collection.create_index, "address")

    async def live_from(self, address: str, at_most: int) -> int:
        """How many challenges issued to `address` have not expired, used or not (counting
        stops at `at_most`): a used one is stored all the same until it expires."""
        query = {"address": address, "expires_at": {"$gt": self._clock()}}
        found: int = await call_database(self._collection.count_documents, query, limit=at_most)
        return found

    async def issue(
        self,
        purpose: Purpose,
        user_id: str | None = None,
        mfa_token: str | None = None,
        *,
        address: str | None = None,
    ) -> Issued:
        """A new challenge for `purpose`; `user_id` for a ceremony of a known user,
        `mfa_token` for a second factor, so only that sign-in's answer can use it, and
        `address` for one `live_from` counts."""
        challenge = secrets.token_bytes(32)
        issued = Issued(base64url(challenge), challenge, purpose, user_id)
        await call_database(
            self._collection.insert_one,
            {
                "_id": issued.id,
                "purpose": purpose,
                "user_id": user_id,
                "mfa_token_hash": None if mfa_token is None else token_hash(mfa_token),
                "address": address,
                "expires_at": self._clock() + self._ttl,
                "used": False,
            },
        )
        return issued

    async def consume(
        self,
        challenge_id: str,
        purpose: Purpose,
        *,
        user_id: str | None = None,
        mfa_token: str | None = None,
    ) -> Issued | None:
        """The live challenge `challenge_id` for `purpose` (and that user, or that second
        factor's sign-in), now used up; None when unknown, used, expired or someone else's."""
        condition: dict[str, Any] = {
            "_id": challenge_id,
            "purpose": purpose,
            "used": False,
            "expires_at": {"$gt": self._clock()},
        }
        if user_id is not None:
            condition["user_id"] = user_id
        if mfa_token is not None:
            condition["mfa_token_hash"] = token_hash(mfa_token)
        doc = await call_database(
            self._collection.find_one_and_update, condition, {"$set": {"used": True}}
        )
        if doc is None:
            return None
        return Issued(doc["_id"], from_base64url(doc["_id"]), purpose, doc.get("user_id"))


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_base64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
