"""The tokens mail carries (email verification, password reset), stored hashed, used once.

```
account_tokens  {_id: SHA-256 of the token (hex), purpose: "verify_email" | "reset_password",
                 user_id (None for a reset asked for an unknown address), email,
                 email_key, password_mark, issued_at, expires_at, used, used_at}
```

A token is 256 random bits (`secrets.token_urlsafe(32)`); only its hash is kept, so a
copy of the database (a backup, a replica) holds nothing that confirms an address or
resets a password. Use is one `find_one_and_update` whose filter asks for an unused,
unexpired token of that purpose: of two requests with one token, exactly one wins. A
used token stays until it expires (a TTL index removes it then), so a second
confirmation of an address can be told apart from a made-up token and answered as the
first was.

`password_mark` ties a reset token to the password it was issued under: a SHA-256 of
the stored bcrypt hash, so the hash itself is not copied. Once the password changes,
by this reset or any other way, the mark no longer matches and the token is dead.

Example:

    from datetime import datetime, timedelta, timezone

    tokens = MailTokens(db["account_tokens"])
    now, ttl = datetime.now(timezone.utc), timedelta(hours=24)
    token = await tokens.issue("verify_email", "6650c0ffee", "alice@example.com", ttl, now)
    doc = await tokens.use("verify_email", token, now)      # None the second time
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from pymongo.collection import Collection

from authkit.storage.database import call_database
from authkit.users.emails import email_key

__all__ = ["MailTokens", "password_mark"]

# What secrets.token_urlsafe(32) makes; anything else is refused unread.
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def password_mark(password_hash: str) -> str:
    """What a reset token keeps of the password it was issued under."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


def well_formed(token: object) -> bool:
    return isinstance(token, str) and bool(_TOKEN_SHAPE.match(token))


class MailTokens:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._tokens = collection

    async def ensure_indexes(self) -> None:
        await call_database(self._tokens.create_index, "expires_at", expireAfterSeconds=0)
        await call_database(self._tokens.create_index, "user_id")
        await call_database(self._tokens.create_index, "email_key")

    async def issue(
        self,
        purpose: str,
        user_id: str | None,
        email: str,
        ttl: timedelta,
        now: datetime,
        *,
        mark: str | None = None,
    ) -> str:
        token = secrets.token_urlsafe(32)
        doc = {
            "_id": _hash(token),
            "purpose": purpose,
            "user_id": user_id,
            "email": email,
            # What `withdraw_claims` finds it by, whatever case the address was given in.
            "email_key": email_key(email),
            "password_mark": mark,
            "issued_at": now,
            "expires_at": now + ttl,
            "used": False,
        }
        await call_database(self._tokens.insert_one, doc)
        return token

    def _live(self, purpose: str, token: str, now: datetime) -> dict[str, Any]:
        return {
            "_id": _hash(token),
            "purpose": purpose,
            "used": False,
            "expires_at": {"$gt": now},
            "user_id": {"$type": "string"},
        }

    async def peek(self, purpose: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The live token's document, left unused (a reset checks the new password first)."""
        if not well_formed(token):
            return None
        return await call_database(self._tokens.find_one, self._live(purpose, token, now))

    async def use(self, purpose: str, token: str, now: datetime) -> dict[str, Any] | None:
        """Use the token up; its document, or None when it is not live (any more)."""
        if not well_formed(token):
            return None
        return await call_database(
            self._tokens.find_one_and_update,
            self._live(purpose, token, now),
            {"$set": {"used": True, "used_at": now}},
        )

    async def used(self, purpose: str, token: str, now: datetime) -> dict[str, Any] | None:
        """The document of a token already used and not yet expired (a second confirmation)."""
        if not well_formed(token):
            return None
        query = {"_id": _hash(token), "purpose": purpose, "used": True, "expires_at": {"$gt": now}}
        return await call_database(self._tokens.find_one, query)

    async def withdraw_claims(self, purpose: str, email: str, owner: str) -> None:
        """Every token of `purpose` mailed to `email` for a user other than `owner`: gone
        (`owner` has just verified it, and the others' claims on it were dropped)."""
        query = {"purpose": purpose, "email_key": email_key(email), "user_id": {"$ne": owner}}
        await call_database(self._tokens.delete_many, query)

    async def withdraw(self, user_id: str, purpose: str | None = None) -> None:
        """Every token of the user (of one purpose), gone: a password changed, an account
        deleted."""
        query: dict[str, Any] = {"user_id": user_id}
        if purpose is not None:
            query["purpose"] = purpose
        await call_database(self._tokens.delete_many, query)
