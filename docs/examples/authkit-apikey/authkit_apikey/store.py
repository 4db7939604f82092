"""API keys in MongoDB: the `api_keys` collection, beside authkit's `users`.

One document per key:

    {_id: ObjectId, key_hash: <hex SHA-256>, prefix: "ak_Qm9xYz12", label, scopes: [...],
     user_id: <the user's _id as a string>, username, created_at, last_used_at, revoked_at}

with a unique index on `key_hash` (the lookup) and an index on `user_id` (listings).
The key itself is never stored; see authkit_apikey.keys. Every pymongo call runs
through `authkit.database.call_database`: off the event loop, outages -> 503.

Example:

    keys = APIKeyStore(database["api_keys"])
    record, key = await keys.create(user_id=..., username="alice", label="ci", scopes=())
    found = await keys.find_active(key)        # None when unknown or revoked
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from authkit.plugin import call_database
from bson import ObjectId
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from authkit_apikey.keys import display_prefix, generate_key, hash_key

__all__ = ["COLLECTION", "APIKey", "APIKeyStore", "Revocation", "iso", "parse_key_id", "utc_now"]

COLLECTION = "api_keys"


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond: what MongoDB stores, so what is returned is what is kept."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _utc(value: object) -> datetime | None:
    """A stored date as an aware UTC datetime (pymongo returns naive UTC ones by default)."""
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def iso(value: datetime | None) -> str | None:
    """JavaScript's toISOString(): `2025-05-01T12:00:00.000Z`."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_key_id(text: str) -> ObjectId | None:
    """The ObjectId `text` spells (24 hex digits), or None."""
    if len(text) != 24 or not ObjectId.is_valid(text):
        return None
    return ObjectId(text)


@attrs.frozen
class APIKey:
    """A stored key, without anything secret: safe to list, log and return."""

    id: str
    prefix: str
    label: str
    scopes: tuple[str, ...]
    user_id: str
    username: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> APIKey:
        created = _utc(doc.get("created_at"))
        return cls(
            id=str(doc["_id"]),
            prefix=str(doc.get("prefix", "")),
            label=str(doc.get("label", "")),
            scopes=tuple(s for s in doc.get("scopes") or () if isinstance(s, str)),
            user_id=str(doc["user_id"]),
            username=str(doc["username"]),
            created_at=created or datetime.fromtimestamp(0, timezone.utc),
            last_used_at=_utc(doc.get("last_used_at")),
            revoked_at=_utc(doc.get("revoked_at")),
        )

    def public(self) -> dict[str, Any]:
        """The JSON a client sees: never the key, never its hash."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "label": self.label,
            "scopes": list(self.scopes),
            "createdAt": iso(self.created_at),
            "lastUsedAt": iso(self.last_used_at),
            "revokedAt": iso(self.revoked_at),
        }


class Revocation(enum.Enum):
    REVOKED = "revoked"
    ALREADY_REVOKED = "already revoked"
    NOT_FOUND = "not found"


class APIKeyStore:
    def __init__(
        self, collection: Collection[dict[str, Any]], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._keys = collection
        self._clock = clock

    @classmethod
    def on_database(cls, database: Database[dict[str, Any]], **kwargs: Any) -> APIKeyStore:
        return cls(database[COLLECTION], **kwargs)

    def now(self) -> datetime:
        return self._clock()

    async def ensure_indexes(self) -> None:
        """Asked of the server before every insert, as authkit's user store does: a no-op when
        the indexes exist, and a collection dropped behind our back gets them back."""
        await call_database(self._keys.create_index, "key_hash", unique=True)
        await call_database(self._keys.create_index, "user_id")

    async def create(
        self, *, user_id: str, username: str, label: str, scopes: Iterable[str]
    ) -> tuple[APIKey, str]:
        """A new key for the user: its record, and the key itself (to be shown once)."""
        await self.ensure_indexes()
        key = generate_key()
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "key_hash": hash_key(key),
            "prefix": display_prefix(key),
            "label": label,
            "scopes": list(scopes),
            "user_id": user_id,
            "username": username,
            "created_at": self._clock(),
            "last_used_at": None,
            "revoked_at": None,
        }
        await call_database(self._keys.insert_one, doc)
        return APIKey.from_document(doc), key

    async def find_active(self, key: str) -> APIKey | None:
        """The key's record when it exists and is not revoked."""
        # Looked up by digest: an attacker's guesses reach the index as SHA-256 outputs, so
        # the lookup's timing says nothing useful about any stored key.
        doc = await call_database(
            self._keys.find_one, {"key_hash": hash_key(key), "revoked_at": None}
        )
        return None if doc is None else APIKey.from_document(doc)

    async def list_for_user(self, user_id: str) -> list[APIKey]:
        cursor = self._keys.find({"user_id": str(user_id)}, {"key_hash": 0}).sort("_id", ASCENDING)
        docs: list[dict[str, Any]] = await call_database(list, cursor)
        return [APIKey.from_document(doc) for doc in docs]

    async def count_active(self, user_id: str) -> int:
        return await call_database(
            self._keys.count_documents, {"user_id": str(user_id), "revoked_at": None}
        )

    async def revoke(self, key_id: ObjectId, *, user_id: str | None = None) -> Revocation:
        """Revoke a key; with `user_id`, only that user's (another's reads as not found)."""
        owner: dict[str, Any] = {} if user_id is None else {"user_id": str(user_id)}
        result = await call_database(
            self._keys.update_one,
            {"_id": key_id, "revoked_at": None, **owner},
            {"$set": {"revoked_at": self._clock()}},
        )
        if result.modified_count:
            return Revocation.REVOKED
        found = await call_database(self._keys.find_one, {"_id": key_id, **owner}, {"_id": 1})
        return Revocation.NOT_FOUND if found is None else Revocation.ALREADY_REVOKED

    async def touch(self, key_id: str, at: datetime, *, every: timedelta) -> None:
        """Set last_used_at = `at`, unless it was set less than `every` before: at most one
        write per key per `every`, however many workers and requests race here."""
        await call_database(
            self._keys.update_one,
            {
                "_id": ObjectId(key_id),
                "$or": [{"last_used_at": None}, {"last_used_at": {"$lte": at - every}}],
            },
            {"$set": {"last_used_at": at}},
        )
