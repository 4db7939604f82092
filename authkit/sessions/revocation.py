"""Revocation checks for access tokens: a denylist in MongoDB and the user's token version.

Off by default (AUTHKIT_REVOCATION_CHECKS): an access token is then checked
from its signature and claims alone, with no database read, as in the seed, and
a signed-out token keeps working until its `exp` (60 seconds by default). On,
the `jwt` strategy also refuses a token when

- its `jti` is on the denylist (`POST /auth/signout` puts it there), or its
  session (`sid`) is (sign-out, a revoked session, a detected refresh-token
  reuse put it there);
- its `token_version` (0 when absent, as in the NestJS app's tokens) is below
  the user's (`POST /auth/signout-all` raises it, and so do an administrator's changes
  to the user's roles, password or sessions), or the user no longer exists or is
  disabled (authkit.admin).

A denylist entry lives as long as the tokens it refuses: a TTL index removes it
once they have expired anyway, so the collection stays as small as the number
of sign-outs in one access-token lifetime.

Example:

    from authkit.users.store import MongoUserStore

    denylist = MongoDenylist(db["revoked_tokens"])
    checker = RevocationChecker(denylist, MongoUserStore(db["users"]))
    claims = issuer.verify(issuer.issue(user_id="6650…", username="alice"))
    reason = await checker.refusal(claims)      # None, "revoked" or "unknown_user"
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs
from pymongo.collection import Collection

from authkit.storage.database import call_database

__all__ = ["MongoDenylist", "RevocationChecker"]


class _TokenVersions(Protocol):
    async def token_version(self, user_id: str) -> int | None: ...


class MongoDenylist:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._denied = collection

    async def ensure_indexes(self) -> None:
        await call_database(self._denied.create_index, "expires_at", expireAfterSeconds=0)

    async def deny_token(self, jti: str, until: datetime) -> None:
        await self._deny(f"jti:{jti}", until)

    async def deny_session(self, session_id: str, until: datetime) -> None:
        await self._deny(f"sid:{session_id}", until)

    async def _deny(self, key: str, until: datetime) -> None:
        # One upsert: a new entry, or (denied already, by a second sign-out with the same
        # token) the later of the two expiries.
        await call_database(
            self._denied.update_one, {"_id": key}, {"$max": {"expires_at": until}}, upsert=True
        )

    async def is_denied(self, jti: str | None, session_id: str | None) -> bool:
        keys = [f"jti:{jti}"] if jti else []
        keys += [f"sid:{session_id}"] if session_id else []
        if not keys:
            return False
        found = await call_database(self._denied.find_one, {"_id": {"$in": keys}}, {"_id": 1})
        return found is not None


@attrs.frozen
class RevocationChecker:
    denylist: MongoDenylist
    users: _TokenVersions

    async def refusal(self, claims: Mapping[str, Any]) -> str | None:
        """Why this (validly signed, unexpired) token must be refused; None when it may pass."""
        if await self.denylist.is_denied(claims.get("jti"), claims.get("sid")):
            return "revoked"
        current = await self.users.token_version(claims["sub"])
        if current is None:
            return "unknown_user"
        if claims.get("token_version", 0) < current:
            return "revoked"
        return None
