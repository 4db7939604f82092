"""Users: the record, the store protocol, and the MongoDB store.

The collection layout is the NestJS app's (mongoose): `{_id: ObjectId,
username, password: <bcrypt hash>, __v: 0}` with a unique index on
`username`, so authkit and that app can share a database. One field of ours
may appear: `token_version`, a counter that `signout-all` raises (absent
means 0); mongoose ignores fields its schema does not name.

Every pymongo call blocks, so each runs in a worker thread through
`authkit.database.call_database`, which also turns connection trouble into
`BackendUnavailable` (503); nothing above this module knows about pymongo.

Example:

    from authkit.passwords.hasher import PasswordHasher

    store = MongoUserStore(db["users"])     # db: open_client(uri).get_default_database("authkit")
    await store.ensure_indexes()
    user = await store.create("alice", await PasswordHasher().hash("s3cret-pass"))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.core.errors import UserAlreadyExists
from authkit.storage.database import call_database

__all__ = ["AccountStore", "MongoUserStore", "User", "UserStore"]


@attrs.frozen
class User:
    id: str
    username: str
    password_hash: str = attrs.field(repr=False)
    # Raised by signout-all; access tokens carry the value they were issued under.
    token_version: int = 0

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> User:
        return cls(
            id=str(doc["_id"]),
            username=doc["username"],
            password_hash=doc["password"],
            token_version=_token_version(doc),
        )


def _token_version(doc: Mapping[str, Any]) -> int:
    # Absent (every NestJS-made user) or not a number: 0, as if never signed out everywhere.
    version = doc.get("token_version", 0)
    return version if isinstance(version, int) else 0


class UserStore(Protocol):
    """What sign-up and sign-in need."""

    async def find_by_username(self, username: str) -> User | None: ...

    async def create(self, username: str, password_hash: str) -> User: ...


@runtime_checkable
class AccountStore(UserStore, Protocol):
    """What refresh, sign-out and hash upgrades need beyond a UserStore."""

    async def find_by_id(self, user_id: str) -> User | None: ...

    async def token_version(self, user_id: str) -> int | None: ...

    async def bump_token_version(self, user_id: str) -> int: ...

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool: ...


def _object_id(user_id: str) -> ObjectId | None:
    """The `_id` a user id names; None for text that cannot be one (a forged `sub`)."""
    return ObjectId(user_id) if isinstance(user_id, str) and ObjectId.is_valid(user_id) else None


class MongoUserStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._users = collection

    async def ensure_indexes(self) -> None:
        """Create the unique `username` index (what mongoose's autoIndex makes: `username_1`).

        Asked of the server every time, not remembered: createIndexes on an existing
        index is a cheap no-op, and a collection dropped while we run (a reset, an
        in-memory server restarted) gets its index back before the next insert.
        """
        await call_database(self._users.create_index, "username", unique=True)

    async def find_by_username(self, username: str) -> User | None:
        # The filter is built here from a str, never from client-supplied mappings,
        # so no client value can reach MongoDB as an operator.
        doc = await call_database(self._users.find_one, {"username": str(username)})
        if doc is None or not isinstance(doc.get("password"), str):
            return None
        return User.from_document(doc)

    async def create(self, username: str, password_hash: str) -> User:
        # Without the unique index in place, two racing sign-ups could both get in.
        await self.ensure_indexes()
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "username": str(username),
            "password": password_hash,
            "__v": 0,
        }
        try:
            await call_database(self._users.insert_one, doc)
        except DuplicateKeyError:
            raise UserAlreadyExists() from None
        return User.from_document(doc)

    async def find_by_id(self, user_id: str) -> User | None:
        oid = _object_id(user_id)
        if oid is None:
            return None
        doc = await call_database(self._users.find_one, {"_id": oid})
        if doc is None or not isinstance(doc.get("password"), str):
            return None
        return User.from_document(doc)

    async def token_version(self, user_id: str) -> int | None:
        """The user's token version; None when there is no such user (any more)."""
        oid = _object_id(user_id)
        if oid is None:
            return None
        doc = await call_database(self._users.find_one, {"_id": oid}, {"token_version": 1})
        return None if doc is None else _token_version(doc)

    async def bump_token_version(self, user_id: str) -> int:
        """Raise the user's token version by one; the new value (0 for an unknown user)."""
        oid = _object_id(user_id)
        if oid is None:
            return 0
        doc = await call_database(
            self._users.find_one_and_update,
            {"_id": oid},
            {"$inc": {"token_version": 1}},
            projection={"token_version": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["token_version"]) if doc is not None else 0

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Store `new_hash` unless the password changed meanwhile (the stored hash is not
        `old_hash` any more); True when it was stored."""
        oid = _object_id(user_id)
        if oid is None:
            return False
        result = await call_database(
            self._users.update_one,
            {"_id": oid, "password": old_hash},
            {"$set": {"password": new_hash}},
        )
        return result.modified_count == 1

    async def ensure_ready(self) -> None:
        """Raise BackendUnavailable unless the database answers and the unique index exists.

        The index is looked up, not remembered: one dropped behind our back is made again.
        """
        indexes = await call_database(self._users.index_information)
        if not indexes.get("username_1", {}).get("unique"):
            await self.ensure_indexes()
