"""Sign-in sessions and their refresh tokens, in MongoDB.

A session is one sign-in: a *family* of refresh tokens, each traded for the
next. Two collections, both emptied by a TTL index on `expires_at`:

```
sessions        {_id: session id, user_id, created_at, last_used_at, user_agent,
                 expires_at, revoked, revoked_at}
refresh_tokens  {_id: SHA-256 of the token (hex), session_id, user_id, issued_at,
                 expires_at, used, used_at, revoked, session_started_at}
```

Each token carries its session's start, so that a refresh, which reads the token
anyway, knows how old the session is without reading the session too (a session's
maximum age is the caller's rule; the store keeps the times it is given).

A refresh token itself is never stored, only its hash: someone who reads the
database (a backup, a replica, a log of queries) cannot use what they read.
The token is 256 random bits, so a fast hash is enough: there is nothing to
guess, unlike a password.

Consumption is one `find_one_and_update` whose filter requires `used: false`:
the server applies it to one document atomically, so of any number of
concurrent refreshes with one token, in any number of workers, exactly one
matches. A used token stays until it expires so that a second use is seen for
what it is (reuse), and the caller revokes the family; `used_at` lets the
caller tell a concurrent duplicate (moments after the first use) from a replay.

Revocation marks the session first and its tokens second, and a refresh adds
its new token before it confirms the session is still live: whichever order a
refresh and a revocation interleave in, no live token survives in a revoked
session.

Example:

    from datetime import datetime, timedelta, timezone

    sessions = MongoSessionStore(db["sessions"], db["refresh_tokens"])
    token, now = new_refresh_token(), datetime.now(timezone.utc)
    expires_at = now + timedelta(days=14)
    session = await sessions.start("6650…", "curl/8.5", hash_token(token), now, expires_at)
    used = await sessions.consume(hash_token(token), now)      # Consumption("consumed", …)
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Literal

import attrs
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from authkit.core.errors import BackendUnavailable
from authkit.storage.database import call_database

__all__ = [
    "MAX_LISTED_SESSIONS",
    "Consumption",
    "MongoSessionStore",
    "Session",
    "hash_token",
    "new_refresh_token",
]

MAX_LISTED_SESSIONS = 100


def new_refresh_token() -> str:
    """43 characters of base64url: 256 bits from the operating system's CSPRNG."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _utc(value: datetime) -> datetime:
    # pymongo hands back naive datetimes (UTC) unless the client is tz_aware.
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _utc_if_set(value: object) -> datetime | None:
    """An optional time field of a document: absent (or not a time) is None."""
    return _utc(value) if isinstance(value, datetime) else None


def _live_session(session_id: str, user_id: str, now: datetime) -> dict[str, Any]:
    """The filter for a session of `user_id` that is neither revoked nor expired."""
    return {"_id": session_id, "user_id": user_id, "revoked": False, "expires_at": {"$gt": now}}


def _token_document(
    session_id: str,
    user_id: str,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
    session_started_at: datetime,
) -> dict[str, Any]:
    return {
        "_id": token_hash,
        "session_id": session_id,
        "user_id": user_id,
        "issued_at": now,
        "expires_at": expires_at,
        "used": False,
        "revoked": False,
        "session_started_at": session_started_at,
    }


def _insert_in_order(*writes: tuple[Collection[dict[str, Any]], dict[str, Any]]) -> None:
    for collection, document in writes:
        collection.insert_one(document)


@attrs.frozen
class Session:
    """One sign-in, as `GET /auth/sessions` shows it (never a token or its hash)."""

    id: str
    user_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Session:
        agent = doc.get("user_agent")
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            created_at=_utc(doc["created_at"]),
            last_used_at=_utc(doc["last_used_at"]),
            expires_at=_utc(doc["expires_at"]),
            user_agent=agent if isinstance(agent, str) else None,
        )


@attrs.frozen
class Consumption:
    """What happened to a refresh token presented for a trade."""

    outcome: Literal["consumed", "reused", "revoked", "expired", "unknown"]
    session_id: str | None = None
    user_id: str | None = None
    # When a reused token was first used: a second use moments later is a race, not a theft.
    used_at: datetime | None = None
    # When its session began (sign-in); None for a token written before authkit kept it.
    session_started_at: datetime | None = None


class MongoSessionStore:
    def __init__(
        self, sessions: Collection[dict[str, Any]], tokens: Collection[dict[str, Any]]
    ) -> None:
        self._sessions = sessions
        self._tokens = tokens

    async def ensure_indexes(self) -> None:
        await call_database(
            self._sessions.create_index, [("user_id", ASCENDING), ("created_at", DESCENDING)]
        )
        await call_database(self._sessions.create_index, "expires_at", expireAfterSeconds=0)
        await call_database(self._tokens.create_index, "session_id")
        await call_database(self._tokens.create_index, "user_id")
        await call_database(self._tokens.create_index, "expires_at", expireAfterSeconds=0)

    async def start(
        self,
        user_id: str,
        user_agent: str | None,
        token_hash: str,
        now: datetime,
        expires_at: datetime,
    ) -> Session:
        session = Session(
            id=secrets.token_urlsafe(12),
            user_id=user_id,
            created_at=now,
            last_used_at=now,
            expires_at=expires_at,
            user_agent=user_agent,
        )
        # One worker-thread trip for both writes, the session first: a sign-in's other
        # database calls each cost a trip, and under load every trip costs a thread switch.
        await call_database(
            _insert_in_order,
            (
                self._sessions,
                {
                    "_id": session.id,
                    "user_id": user_id,
                    "created_at": now,
                    "last_used_at": now,
                    "user_agent": user_agent,
                    "expires_at": expires_at,
                    "revoked": False,
                },
            ),
            (
                self._tokens,
                _token_document(session.id, user_id, token_hash, now, expires_at, now),
            ),
        )
        return session

    async def consume(self, token_hash: str, now: datetime) -> Consumption:
        """Mark the token used if it is live; otherwise say why not."""
        live = {"_id": token_hash, "used": False, "revoked": False, "expires_at": {"$gt": now}}
        doc = await call_database(
            self._tokens.find_one_and_update,
            live,
            {"$set": {"used": True, "used_at": now}},
            projection={"session_id": 1, "user_id": 1, "session_started_at": 1},
        )
        if doc is not None:
            return Consumption(
                "consumed",
                doc["session_id"],
                doc["user_id"],
                session_started_at=_utc_if_set(doc.get("session_started_at")),
            )
        doc = await call_database(self._tokens.find_one, {"_id": token_hash})
        if doc is None:
            return Consumption("unknown")
        outcome: Literal["reused", "revoked", "expired"] = (
            "reused" if doc.get("used") else "revoked" if doc.get("revoked") else "expired"
        )
        return Consumption(
            outcome,
            doc.get("session_id"),
            doc.get("user_id"),
            _utc_if_set(doc.get("used_at")),
        )

    async def continue_session(
        self,
        session_id: str,
        user_id: str,
        token_hash: str,
        now: datetime,
        expires_at: datetime,
        started_at: datetime,
    ) -> bool:
        """Add the next token of a session (`started_at`: the session's sign-in, which the
        token carries on); False (and the token dead) when the session was revoked."""
        await call_database(
            self._tokens.insert_one,
            _token_document(session_id, user_id, token_hash, now, expires_at, started_at),
        )
        live = await call_database(
            self._sessions.find_one_and_update,
            {"_id": session_id, "user_id": user_id, "revoked": False},
            {"$set": {"last_used_at": now, "expires_at": expires_at}},
            projection={"_id": 1},
        )
        if live is None:
            await call_database(
                self._tokens.update_one, {"_id": token_hash}, {"$set": {"revoked": True}}
            )
            return False
        return True

    async def find_token(self, token_hash: str) -> Consumption:
        """Whose token this is, without using it (sign-out names a session by its token)."""
        doc = await call_database(
            self._tokens.find_one, {"_id": token_hash}, {"session_id": 1, "user_id": 1}
        )
        if doc is None:
            return Consumption("unknown")
        return Consumption("consumed", doc["session_id"], doc["user_id"])

    async def release(self, token_hash: str) -> None:
        """Undo `consume` for a refresh that failed on the database after using the token up,
        so the client's retry is a retry, not a reuse. Best effort: the database may still
        be away, and then the token stays used."""
        with contextlib.suppress(BackendUnavailable):
            await call_database(
                self._tokens.update_one,
                # No other request can have used it since: it was ours to use, atomically.
                {"_id": token_hash, "used": True, "revoked": False},
                {"$set": {"used": False}, "$unset": {"used_at": ""}},
            )

    async def is_live(self, session_id: str, user_id: str, now: datetime) -> bool:
        """Whether `user_id` has this session, not revoked and not expired."""
        doc = await call_database(
            self._sessions.find_one, _live_session(session_id, user_id, now), {"_id": 1}
        )
        return doc is not None

    async def revoke(self, session_id: str, user_id: str, now: datetime) -> bool:
        """Revoke one live session of `user_id`; False when there is no such session."""
        result = await call_database(
            self._sessions.update_one,
            _live_session(session_id, user_id, now),
            {"$set": {"revoked": True, "revoked_at": now}},
        )
        if result.matched_count == 0:
            return False
        await call_database(
            self._tokens.update_many,
            {"session_id": session_id, "revoked": False},
            {"$set": {"revoked": True}},
        )
        return True

    async def revoke_all(self, user_id: str, now: datetime, *, keep: str | None = None) -> int:
        """Revoke every session of `user_id` but `keep` (the caller's own, when it changes
        its password); how many were live."""
        sessions: dict[str, Any] = {"user_id": user_id, "revoked": False}
        tokens: dict[str, Any] = {"user_id": user_id, "revoked": False}
        if keep is not None:
            sessions["_id"] = {"$ne": keep}
            tokens["session_id"] = {"$ne": keep}
        result = await call_database(
            self._sessions.update_many, sessions, {"$set": {"revoked": True, "revoked_at": now}}
        )
        await call_database(self._tokens.update_many, tokens, {"$set": {"revoked": True}})
        return int(result.modified_count)

    async def delete_all(self, user_id: str) -> None:
        """Forget every session and refresh token of `user_id` (the account is deleted)."""
        await call_database(self._tokens.delete_many, {"user_id": user_id})
        await call_database(self._sessions.delete_many, {"user_id": user_id})

    async def active(self, user_id: str, now: datetime) -> list[Session]:
        """The user's live sessions, newest first (at most MAX_LISTED_SESSIONS)."""
        cursor = (
            self._sessions.find({"user_id": user_id, "revoked": False, "expires_at": {"$gt": now}})
            .sort("created_at", DESCENDING)
            .limit(MAX_LISTED_SESSIONS)
        )
        docs: list[dict[str, Any]] = await call_database(list, cursor)
        return [Session.from_document(doc) for doc in docs]
