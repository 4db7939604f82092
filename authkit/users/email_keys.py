"""Only a verified address is unique: `verified_email_key`, kept true to `email_verified`.

A user's address lives in `email`, `email_key` (its case-folded key, looked up by) and
`email_verified`. `verified_email_key` is `email_key` again, present exactly while the
address is verified, under a unique sparse index: authkit.accounts.store writes the two
together. `repair` makes that hold for documents written any other way:

- by a version from before, which kept every address unique with a unique `email_key_1`
  index: that index is made again without `unique`, and its verified addresses get their
  `verified_email_key`;
- by an instance of that version still running beside this one during an upgrade, which
  verifies addresses without the field (or moves a verified address and leaves the old
  key behind);
- by hand, or by a restore of an old backup.

Two verified owners of one address (only an older version beside this one can make
them) cannot both keep it: the first met keeps it, the others' become unverified, and
the count is logged. `repair` runs once per process, at start or, when the database
was not reachable then, before the first sign-up, address lookup or readiness answer.

Example:

    keys = EmailKeys(db["users"])
    await keys.repair_once()     # the indexes in place, every verified address keyed
    keys.repaired                # True
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.storage.database import call_database

__all__ = ["EMAIL_KEY", "VERIFIED_EMAIL_KEY", "EmailKeys"]

logger = logging.getLogger("authkit.users")

EMAIL_KEY = "email_key"
VERIFIED_EMAIL_KEY = "verified_email_key"
_UNVERIFY = {"$set": {"email_verified": False}, "$unset": {VERIFIED_EMAIL_KEY: ""}}


class EmailKeys:
    def __init__(self, users: Collection[dict[str, Any]]) -> None:
        self._users = users
        self._repaired = False

    @property
    def repaired(self) -> bool:
        return self._repaired

    async def repair_once(self) -> None:
        """`repair`, unless this process has done it already."""
        if not self._repaired:
            await call_database(self._repair)
            self._repaired = True

    def _repair(self) -> None:
        legacy = self._users.index_information().get(f"{EMAIL_KEY}_1")
        if legacy is not None and legacy.get("unique"):
            self._users.drop_index(f"{EMAIL_KEY}_1")
        self._users.create_index(EMAIL_KEY)
        self._users.create_index(VERIFIED_EMAIL_KEY, unique=True, sparse=True)
        self._users.update_many(
            {"email_verified": {"$ne": True}, VERIFIED_EMAIL_KEY: {"$exists": True}},
            {"$unset": {VERIFIED_EMAIL_KEY: ""}},
        )
        demoted = 0
        verified = self._users.find({"email_verified": True}, {EMAIL_KEY: 1, VERIFIED_EMAIL_KEY: 1})
        for doc in verified:
            key = doc.get(EMAIL_KEY)
            if isinstance(key, str) and doc.get(VERIFIED_EMAIL_KEY) == key:
                continue
            where = {"_id": doc["_id"], "email_verified": True}
            try:
                if isinstance(key, str):
                    self._users.update_one(where, {"$set": {VERIFIED_EMAIL_KEY: key}})
                else:
                    self._users.update_one(where, _UNVERIFY)  # verified, but no address
            except DuplicateKeyError:
                self._users.update_one(where, _UNVERIFY)
                demoted += 1
        if demoted:
            logger.warning(
                "%d verified address(es) were verified by another user too (an older version "
                "ran beside this one); each stays with one user, the others' are unverified",
                demoted,
            )
