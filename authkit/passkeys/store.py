"""Registered passkeys, in MongoDB.

```
passkeys  {_id: passkey id, credential_id (base64url, unique), user_id, public_key (COSE),
           sign_count, name, created_at, last_used_at, backed_up, transports}
```

A passkey's id in the API is a short random one of ours, not the credential id (up to
1,023 bytes, chosen by the authenticator). Every change names the owner in its filter, so a
request for someone else's passkey finds nothing, the same as for one that does not exist.
A sign-in moves the counter with a compare-and-set on the value it read: of two answers
with the same counter presented at once, one wins.

Example:

    from datetime import datetime, timezone

    passkeys = MongoPasskeyStore(db["passkeys"])
    new = NewPasskey(b"credential id", b"COSE public key", sign_count=0)
    key = await passkeys.add("6650f1c2", new, "Laptop", datetime.now(timezone.utc))
    await passkeys.rename("6650f1c2", key.id, "Work laptop")
    await passkeys.methods_for("6650f1c2")                     # ["passkey"]
"""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import attrs
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.core.errors import Conflict
from authkit.passkeys.challenges import base64url
from authkit.storage.database import call_database

__all__ = ["MAX_PASSKEYS", "MongoPasskeyStore", "NewPasskey", "Passkey"]

# Each is offered in every second-factor ceremony's allowCredentials and listed in full.
MAX_PASSKEYS = 20


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@attrs.frozen
class NewPasskey:
    """What a verified registration yields."""

    credential_id: bytes
    public_key: bytes = attrs.field(repr=False)
    sign_count: int
    backed_up: bool = False
    transports: tuple[str, ...] = ()


@attrs.frozen
class Passkey:
    id: str
    user_id: str
    credential_id: str
    public_key: bytes = attrs.field(repr=False)
    sign_count: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool
    transports: tuple[str, ...]

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Passkey:
        last = doc.get("last_used_at")
        return cls(
            id=doc["_id"],
            user_id=doc["user_id"],
            credential_id=doc["credential_id"],
            public_key=bytes(doc["public_key"]),
            sign_count=int(doc.get("sign_count", 0)),
            name=doc["name"],
            created_at=_utc(doc["created_at"]),
            last_used_at=_utc(last) if isinstance(last, datetime) else None,
            backed_up=doc.get("backed_up") is True,
            transports=tuple(doc.get("transports") or ()),
        )


class MongoPasskeyStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._passkeys = collection

    async def ensure_indexes(self) -> None:
        await call_database(self._passkeys.create_index, "credential_id", unique=True)
        await call_database(
            self._passkeys.create_index, [("user_id", ASCENDING), ("created_at", ASCENDING)]
        )

    async def add(self, user_id: str, new: NewPasskey, name: str, now: datetime) -> Passkey:
        doc: dict[str, Any] = {
            "_id": secrets.token_urlsafe(12),
            "credential_id": base64url(new.credential_id),
            "user_id": user_id,
            "public_key": new.public_key,
            "sign_count": new.sign_count,
            "name": name,
            "created_at": now,
            "last_used_at": None,
            "backed_up": new.backed_up,
            "transports": list(new.transports),
        }
        try:
            await call_database(self._passkeys.insert_one, doc)
        except DuplicateKeyError:
            raise Conflict("This passkey is registered already") from None
        return Passkey.from_document(doc)

    async def count(self, user_id: str) -> int:
        return int(await call_database(self._passkeys.count_documents, {"user_id": user_id}))

    async def of_user(self, user_id: str) -> list[Passkey]:
        cursor = self._passkeys.find({"user_id": user_id}).sort("created_at", ASCENDING).limit(100)
        docs: list[dict[str, Any]] = await call_database(list, cursor)
        return [Passkey.from_document(d) for d in docs]

    async def by_credential(self, credential_id: str) -> Passkey | None:
        doc = await call_database(self._passkeys.find_one, {"credential_id": credential_id})
        return None if doc is None else Passkey.from_document(doc)

    async def rename(self, user_id: str, passkey_id: str, name: str) -> Passkey | None:
        doc = await call_database(
            self._passkeys.find_one_and_update,
            {"_id": passkey_id, "user_id": user_id},
            {"$set": {"name": name}},
            return_document=True,
        )
        return None if doc is None else Passkey.from_document(doc)

    async def delete(self, user_id: str, passkey_id: str) -> bool:
        result = await call_database(
            self._passkeys.delete_one, {"_id": passkey_id, "user_id": user_id}
        )
        return bool(result.deleted_count)

    async def advance(self, key: Passkey, sign_count: int, now: datetime) -> bool:
        """Record a sign-in: the counter moves from the value `key` was read with; False when
        another sign-in moved it first (or the passkey was deleted meanwhile)."""
        result = await call_database(
            self._passkeys.update_one,
            {"_id": key.id, "sign_count": key.sign_count},
            {"$set": {"sign_count": sign_count, "last_used_at": now}},
        )
        return bool(result.matched_count)

    async def methods_for(self, user_id: str) -> list[str]:
        """The second-factor methods this store gives `user_id` (authkit.mfa's MFAPolicy)."""
        doc = await call_database(self._passkeys.find_one, {"user_id": user_id}, {"_id": 1})
        return ["passkey"] if doc is not None else []
