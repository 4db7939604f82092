"""UserDirectory: what administration reads and writes of the `users` collection, beyond
what sign-up and sign-in need (authkit.users.store).

Listing is by `_id`, ascending (the order users were created in), one page at a time: a
page ends with the cursor of its last user, and the next page starts after it, so users
created or removed meanwhile never shift a page the way an offset would. A search is a
prefix of the canonical username (`ali` finds `Alice`), so the unique index on it answers.

Every write is one atomic update of one document. A change of roles also raises the
user's token version: with revocation checks their access tokens stop at once, and the
next refresh brings tokens with the new roles.

Example:

    from authkit.passwords.hasher import PasswordHasher

    user = await store.create("alice", await PasswordHasher(4).hash("s3cret-pass"))
    directory = UserDirectory(db["users"])
    users, after = await directory.page(search="ali", limit=20)
    assert [u.username for u in users] == ["alice"] and after is None
    updated = await directory.set_roles(user.id, ("admin",))
    assert updated is not None and updated.roles == ("admin",)
"""

from __future__ import annotations

import re
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection

from authkit.storage.database import call_database
from authkit.users.names import UsernameRefused, canonical_username
from authkit.users.store import User

__all__ = ["MAX_PAGE", "UserDirectory", "is_user_id"]

# However many a client asks for: a page is read into memory and sent at once.
MAX_PAGE = 100
# Only documents a User can be made of (the NestJS app's have a string `password` too).
_USERS: dict[str, Any] = {"password": {"$type": "string"}, "username": {"$type": "string"}}


def is_user_id(value: object) -> bool:
    return isinstance(value, str) and len(value) == 24 and ObjectId.is_valid(value)


def _search(text: str) -> dict[str, Any]:
    try:
        prefix = canonical_username(text)
    except UsernameRefused:
        prefix = text
    # re.escape: the client's text is matched literally, never as a pattern of its own.
    pattern = "^" + re.escape(prefix)
    return {"$or": [{"username_canonical": {"$regex": pattern}}, {"username": {"$regex": pattern}}]}


class UserDirectory:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._users = collection

    async def page(
        self, *, search: str | None = None, after: str | None = None, limit: int = 20
    ) -> tuple[list[User], str | None]:
        """Up to `limit` users (at most MAX_PAGE) after the cursor `after`, and the cursor
        of the next page (None on the last)."""
        limit = max(1, min(limit, MAX_PAGE))
        query: dict[str, Any] = dict(_USERS)
        if after is not None and is_user_id(after):
            query["_id"] = {"$gt": ObjectId(after)}
        if search:
            query = {"$and": [query, _search(search)]}

        def read() -> list[dict[str, Any]]:
            return list(self._users.find(query).sort("_id", ASCENDING).limit(limit + 1))

        docs = await call_database(read)
        users = [User.from_document(doc) for doc in docs[:limit]]
        return users, (users[-1].id if len(docs) > limit else None)

    async def set_roles(self, user_id: str, roles: tuple[str, ...]) -> User | None:
        """Replace the user's roles (none: the field goes, as for a user who never had any)."""
        change: dict[str, Any] = (
            {"$set": {"roles": list(roles)}} if roles else {"$unset": {"roles": ""}}
        )
        return await self._update(user_id, {**change, "$inc": {"token_version": 1}})

    async def set_disabled(self, user_id: str, disabled: bool) -> User | None:
        change = {"$set": {"disabled": True}} if disabled else {"$unset": {"disabled": ""}}
        return await self._update(user_id, change)

    async def set_password_hash(self, user_id: str, password_hash: str) -> User | None:
        """`password_hash` from PasswordHasher.hash (of the NFC form, hence `password_nfc`)."""
        change = {"$set": {"password": password_hash, "password_nfc": True}}
        return await self._update(user_id, change)

    async def _update(self, user_id: str, change: dict[str, Any]) -> User | None:
        if not is_user_id(user_id):
            return None
        doc = await call_database(
            self._users.find_one_and_update,
            {"_id": ObjectId(user_id), **_USERS},
            change,
            return_document=ReturnDocument.AFTER,
        )
        return None if doc is None else User.from_document(doc)
