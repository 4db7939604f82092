"""What the accounts capability writes in the `users` collection, and what goes with a user.

A user's address lives beside the NestJS layout, as fields mongoose ignores:

```
email            the address, canonical (authkit.users.emails)
email_key        its case-folded key: unique (sparse) across users
email_verified   true once a link sent to it was followed
email_pending    an address the user is changing to, with email_pending_key: it takes
                 `email`'s place once verified; until then the old one stays
```

Every change is one `update_one` whose filter states what it expects (the address
the token was for, the hash the password had): two requests at once cannot both
win, and a verification that lost a race with an address change changes nothing.

Example:

    records = AccountRecords(db["users"], [(db["oauth_identities"], "user_id")])
    user = await store.create("alice", "$2b$04$" + "x" * 53)
    await records.request_email(user.id, "alice@example.com")   # "set" (none verified yet)
    await records.confirm(user.id, "alice@example.com")           # True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.core.errors import EmailAlreadyInUse
from authkit.storage.database import call_database
from authkit.users.emails import email_key
from authkit.users.store import User

__all__ = ["AccountRecords"]

# How many times a change is retried when the user's state moved under it.
_ATTEMPTS = 3


def _oid(user_id: str) -> ObjectId | None:
    return ObjectId(user_id) if ObjectId.is_valid(user_id) else None


# What else holds a user's data, and the field that names the user there: linked identities
# (authkit.social), second factors and their open challenges (authkit.mfa), passkeys and
# their ceremonies (authkit.passkeys). A capability that keeps a user's data adds its row.
RELATED = (
    ("oauth_identities", "user_id"),
    ("mfa_factors", "_id"),
    ("mfa_challenges", "user_id"),
    ("passkeys", "user_id"),
    ("webauthn_challenges", "user_id"),
)


class AccountRecords:
    def __init__(
        self,
        users: Collection[dict[str, Any]],
        related: Sequence[tuple[Collection[dict[str, Any]], str]] = (),
    ) -> None:
        self._users = users
        # Emptied of the user's documents when the account is deleted.
        self._related = related

    async def find_by_email(self, email: str, *, verified: bool) -> User | None:
        query: dict[str, Any] = {"email_key": email_key(email)}
        if verified:
            query["email_verified"] = True
        doc = await call_database(self._users.find_one, query)
        if doc is None or not isinstance(doc.get("password"), str):
            return None
        return User.from_document(doc)

    async def address_taken(self, email: str, user_id: str) -> bool:
        """Whether another user has `email` as their address."""
        doc = await call_database(self._users.find_one, {"email_key": email_key(email)}, {"_id": 1})
        return doc is not None and str(doc["_id"]) != user_id

    async def request_email(
        self, user_id: str, email: str
    ) -> Literal["set", "pending", "unchanged", "no_user"]:
        """Give the user `email`: at once while they have no verified address ("set"),
        else as the pending one beside the verified one ("pending"); "unchanged" when it
        is their verified address already. EmailAlreadyInUse when another user has it."""
        oid = _oid(user_id)
        if oid is None:
            return "no_user"
        key = email_key(email)
        for _ in range(_ATTEMPTS):
            unchanged = await call_database(
                self._users.update_one,
                {"_id": oid, "email_key": key, "email_verified": True},
                {"$unset": {"email_pending": "", "email_pending_key": ""}},
            )
            if unchanged.matched_count:
                return "unchanged"
            pending = await call_database(
                self._users.update_one,
                {"_id": oid, "email_verified": True},
                {"$set": {"email_pending": email, "email_pending_key": key}},
            )
            if pending.matched_count:
                return "pending"
            try:
                replaced = await call_database(
                    self._users.update_one,
                    {"_id": oid, "email_verified": {"$ne": True}},
                    {
                        "$set": {"email": email, "email_key": key, "email_verified": False},
                        "$unset": {"email_pending": "", "email_pending_key": ""},
                    },
                )
            except DuplicateKeyError:
                raise EmailAlreadyInUse() from None
            if replaced.matched_count:
                return "set"
            exists = await call_database(self._users.find_one, {"_id": oid}, {"_id": 1})
            if exists is None:
                return "no_user"
        # The address flipped between verified and not on every try: a client racing itself.
        raise EmailAlreadyInUse("The address changed meanwhile; try again")

    async def confirm(self, user_id: str, email: str) -> bool:
        """Mark `email` verified: the pending address takes the current one's place, or the
        current one becomes verified. False when it is neither any more (changed since the
        link was sent); EmailAlreadyInUse when another user verified it first."""
        oid = _oid(user_id)
        if oid is None:
            return False
        key = email_key(email)
        try:
            promoted = await call_database(
                self._users.update_one,
                {"_id": oid, "email_pending_key": key},
                {
                    "$set": {"email": email, "email_key": key, "email_verified": True},
                    "$unset": {"email_pending": "", "email_pending_key": ""},
                },
            )
        except DuplicateKeyError:
            raise EmailAlreadyInUse() from None
        if promoted.matched_count:
            return True
        verified = await call_database(
            self._users.update_one,
            {"_id": oid, "email_key": key},
            {"$set": {"email_verified": True}},
        )
        return bool(verified.matched_count)

    async def set_password(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Store `new_hash` (PasswordHasher.hash: of the NFC form) unless the password
        changed meanwhile; True when stored."""
        oid = _oid(user_id)
        if oid is None:
            return False
        result = await call_database(
            self._users.update_one,
            {"_id": oid, "password": old_hash},
            {"$set": {"password": new_hash, "password_nfc": True}},
        )
        return bool(result.matched_count)

    async def delete_user(self, user_id: str) -> bool:
        """The user's documents elsewhere (`related`), then the user; True when the user
        was there."""
        oid = _oid(user_id)
        if oid is None:
            return False
        for collection, field in self._related:
            # Whichever way a capability writes the id, as text or as an ObjectId, it matches.
            await call_database(collection.delete_many, {field: {"$in": [user_id, oid]}})
        result = await call_database(self._users.delete_one, {"_id": oid})
        return bool(result.deleted_count)
