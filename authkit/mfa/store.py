"""Where a user's second factors live: one document per user in `mfa_factors`.

    {_id: <user id>, totp: <sealed secret>, totp_last_step: <int>,
     totp_pending: <sealed secret>, recovery_codes: [<keyed hash>, ...]}

`totp` is there only once confirmed; an enrolment not yet confirmed is `totp_pending`.
Secrets are sealed by authkit.mfa.keys.SecretBox, codes hashed by its CodeHasher; this
module sees neither in clear. Every change that decides something is one conditional
update, so two requests at once cannot both use one time step or one recovery code, nor
confirm over a factor that is already on.

Example:

    factors = MongoFactorStore(db["mfa_factors"])
    alice = "6650c0ffee0123456789abcd"
    await factors.begin_enrolment(alice, b"...sealed by SecretBox...")   # True: pending
    await factors.use_step(alice, 59_000_001)     # False: no TOTP is on (confirm() does it)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import attrs
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.storage.database import call_database

__all__ = ["FactorRecord", "MongoFactorStore"]


@attrs.frozen
class FactorRecord:
    totp: bytes | None = attrs.field(default=None, repr=False)
    pending: bytes | None = attrs.field(default=None, repr=False)
    last_step: int = -1
    recovery_left: int = 0

    @classmethod
    def from_document(cls, doc: dict[str, Any] | None) -> FactorRecord:
        if doc is None:
            return cls()
        last = doc.get("totp_last_step")
        return cls(
            totp=_bytes(doc.get("totp")),
            pending=_bytes(doc.get("totp_pending")),
            last_step=last if isinstance(last, int) else -1,
            recovery_left=len(doc.get("recovery_codes") or ()),
        )


def _bytes(value: object) -> bytes | None:
    return bytes(value) if isinstance(value, (bytes, bytearray)) else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MongoFactorStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._factors = collection

    async def get(self, user_id: str) -> FactorRecord:
        doc = await call_database(self._factors.find_one, {"_id": user_id})
        return FactorRecord.from_document(doc)

    async def begin_enrolment(self, user_id: str, sealed: bytes) -> bool:
        """Keep `sealed` as the pending secret (replacing an earlier pending one); False
        when TOTP is on already."""
        try:
            await call_database(
                self._factors.update_one,
                {"_id": user_id, "totp": {"$exists": False}},
                {"$set": {"totp_pending": sealed, "updated_at": _now()}},
                upsert=True,
            )
        except DuplicateKeyError:
            # The document exists and has `totp`: the filter missed, the upsert collided.
            return False
        return True

    async def confirm(
        self, user_id: str, pending: bytes, step: int, code_hashes: Sequence[str]
    ) -> bool:
        """Turn the pending secret the caller checked into the factor, with its first used
        time step and new recovery codes; False when it is no longer the pending one."""
        found = await call_database(
            self._factors.find_one_and_update,
            {"_id": user_id, "totp_pending": pending, "totp": {"$exists": False}},
            {
                "$set": {
                    "totp": pending,
                    "totp_last_step": step,
                    "recovery_codes": list(code_hashes),
                    "updated_at": _now(),
                },
                "$unset": {"totp_pending": ""},
            },
            return_document=ReturnDocument.AFTER,
        )
        return found is not None

    async def use_step(self, user_id: str, step: int) -> bool:
        """Record `step` as used; False when it, or a later one, was used already."""
        result = await call_database(
            self._factors.update_one,
            {"_id": user_id, "totp": {"$exists": True}, "totp_last_step": {"$lt": step}},
            {"$set": {"totp_last_step": step}},
        )
        return result.modified_count == 1

    async def remove_totp(self, user_id: str) -> bool:
        result = await call_database(
            self._factors.update_one,
            {"_id": user_id, "totp": {"$exists": True}},
            {
                "$unset": {"totp": "", "totp_last_step": "", "totp_pending": ""},
                "$set": {"updated_at": _now()},
            },
        )
        return result.modified_count == 1

    async def replace_codes(self, user_id: str, code_hashes: Sequence[str]) -> None:
        await call_database(
            self._factors.update_one,
            {"_id": user_id},
            {"$set": {"recovery_codes": list(code_hashes), "updated_at": _now()}},
            upsert=True,
        )

    async def use_code(self, user_id: str, code_hash: str) -> bool:
        """Take one recovery code out; False when it is not (or no longer) there."""
        result = await call_database(
            self._factors.update_one,
            {"_id": user_id, "recovery_codes": code_hash},
            {"$pull": {"recovery_codes": code_hash}},
        )
        return result.modified_count == 1
