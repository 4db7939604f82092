"""Users: the record, the store protocol, and the MongoDB store.

The collection layout is the NestJS app's (mongoose): `{_id: ObjectId,
username, password: <bcrypt hash>, __v: 0}` with a unique index on
`username`, so authkit and that app can share a database.

Every pymongo call blocks, so each runs in a worker thread through
`authkit.database.call_database`, which also turns connection trouble into
`BackendUnavailable` (503); nothing above this module knows about pymongo.

Example:

    store = MongoUserStore(MongoClient(uri).get_default_database("authkit")["users"])
    await store.ensure_indexes()
    user = await store.create("alice", hashed_password)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs
from bson import ObjectId
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.database import call_database
from authkit.errors import UserAlreadyExists

__all__ = ["MongoUserStore", "User", "UserStore"]


@attrs.frozen
class User:
    id: str
    username: str
    password_hash: str = attrs.field(repr=False)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> User:
        return cls(id=str(doc["_id"]), username=doc["username"], password_hash=doc["password"])


class UserStore(Protocol):
    async def find_by_username(self, username: str) -> User | None: ...

    async def create(self, username: str, password_hash: str) -> User: ...


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

    async def ensure_ready(self) -> None:
        """Raise BackendUnavailable unless the database answers and the unique index exists.

        The index is looked up, not remembered: one dropped behind our back is made again.
        """
        indexes = await call_database(self._users.index_information)
        if not indexes.get("username_1", {}).get("unique"):
            await self.ensure_indexes()
