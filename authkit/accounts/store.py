"""What the accounts capability writes in the `users` collection, and what goes with a user.

A user's address lives beside the NestJS layout, as fields mongoose ignores:

```
email               the address, canonical (authkit.users.emails)
email_key           its case-folded key, looked up by; not unique
email_verified      true once a link sent to it was followed
verified_email_key  email_key again, present only while email_verified: unique (sparse)
email_pending       an address the user is changing to, with email_pending_key: it takes
                    `email`'s place once verified; until then the old one stays
```

Only a verified address belongs to one user. Giving an address (at sign-up, or by
POST /auth/email) claims it, refused for nobody: a refusal would tell the asker that
the address is registered, and would let anyone hold an address its owner then
cannot add. The first user to follow a link mailed to it gets it (the unique index on
`verified_email_key` decides a tie); everyone else's claim on it is dropped then.

Every change is one `update_one` whose filter states what it expects (the address
the token was for, the hash the password had): two requests at once cannot both
win, and a verification that lost a race with an address change changes nothing.

Example:

    records = AccountRecords(db["users"], [(db["oauth_identities"], "user_id")])
    user = await store.create("alice", "$2b$04$" + "x" * 53)
    await records.request_email(user.id, "alice@example.com")   # "set" (none verified yet)
    await records.confirm(user.id, "alice@example.com")           # True
    await records.verified_owner("ALICE@example.com")             # alice's id
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from bson import ObjectId
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.core.errors import Conflict, EmailAlreadyInUse
from authkit.storage.database import call_database
from authkit.users.email_keys import VERIFIED_EMAIL_KEY
from authkit.users.emails import email_key

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

    async def verified_owner(self, email: str) -> str | None:
        """The id of the user whose verified address `email` is."""
        query = {VERIFIED_EMAIL_KEY: email_key(email)}
        doc = await call_database(self._users.find_one, query, {"_id": 1})
        return None if doc is None else str(doc["_id"])

    async def request_email(
        self, user_id: str, email: str
    ) -> Literal["set", "pending", "unchanged", "no_user"]:
        """Give the user `email`: at once while they have no verified address ("set"),
        else as the pending one beside the verified one ("pending"); "unchanged" when it
        is their verified address already. Unverified either way, whoever else has it."""
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
            replaced = await call_database(
                self._users.update_one,
                {"_id": oid, "email_verified": {"$ne": True}},
                {
                    "$set": {"email": email, "email_key": key, "email_verified": False},
                    "$unset": {
                        "email_pending": "",
                        "email_pending_key": "",
                        VERIFIED_EMAIL_KEY: "",
                    },
                },
            )
            if replaced.matched_count:
                return "set"
            exists = await call_database(self._users.find_one, {"_id": oid}, {"_id": 1})
            if exists is None:
                return "no_user"
        # The address flipped between verified and not on every try: a client racing itself.
        raise Conflict("The address changed meanwhile; try again")

    async def confirm(self, user_id: str, email: str) -> bool:
        """Mark `email` verified: the pending address takes the current one's place, or the
        current one becomes verified; other users' claims on it are dropped. False when it
        is neither any more (changed since the link was sent, or dropped because another
        user verified it); EmailAlreadyInUse when another user has it verified."""
        oid = _oid(user_id)
        if oid is None:
            return False
        key = email_key(email)
        verified = {"email": email, "email_key": key, "email_verified": True}
        try:
            promoted = await call_database(
                self._users.update_one,
                {"_id": oid, "email_pending_key": key},
                {
                    "$set": {**verified, VERIFIED_EMAIL_KEY: key},
                    "$unset": {"email_pending": "", "email_pending_key": ""},
                },
            )
            confirmed = (
                promoted.matched_count
                or (
                    await call_database(
                        self._users.update_one,
                        {"_id": oid, "email_key": key},
                        {"$set": {"email_verified": True, VERIFIED_EMAIL_KEY: key}},
                    )
                ).matched_count
            )
        except DuplicateKeyError:
            raise EmailAlreadyInUse() from None
        if confirmed:
            await self._drop_claims(oid, key)
        return bool(confirmed)

    async def _drop_claims(self, owner: ObjectId, key: str) -> None:
        """Other users' unverified claims on the address `owner` has just verified: gone,
        with the links mailed for them (those confirm nothing now)."""
        others = {"_id": {"$ne": owner}}
        await call_database(
            self._users.update_many,
            {**others, "email_key": key, "email_verified": {"$ne": True}},
            {"$unset": {"email": "", "email_key": "", "email_verified": ""}},
        )
        await call_database(
            self._users.update_many,
            {**others, "email_pending_key": key},
            {"$unset": {"email_pending": "", "email_pending_key": ""}},
        )

    async def set_password(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Store `new_hash` (PasswordHasher.hash: of the NFC form) unless the password
        changed meanwhile (`old_hash` "": the user had none); True when stored."""
        oid = _oid(user_id)
        if oid is None:
            return False
        had = old_hash if old_hash else {"$exists": False}
        result = await call_database(
            self._users.update_one,
            {"_id": oid, "password": had},
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
