"""Linked identities (`oauth_identities`): one document per (issuer, subject), uniquely
indexed, naming the local user it signs in as. Never looked up by email: an address can
change hands, an issuer's subject cannot. One identity per provider per user (unique too),
so `DELETE /auth/identities/{provider}` names one.

Example:

    from authkit.social.providers import Profile

    identities = IdentityStore(db["oauth_identities"])
    profile = Profile("https://github.com", "4242", "octo@example.com", email_verified=True)
    assert await identities.link("65a0c0ffee0000000000beef", "github", profile)
    assert not await identities.link("65a0c0ffee0000000000f00d", "github", profile)  # taken
    found = await identities.find(profile.issuer, profile.subject)
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any

import attrs
from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.social.providers import Profile
from authkit.storage.database import call_database

__all__ = ["Identity", "IdentityStore"]


@attrs.frozen
class Identity:
    user_id: str
    provider: str
    issuer: str
    subject: str
    email: str | None
    linked_at: datetime

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Identity:
        linked = doc["linked_at"]
        return cls(
            user_id=str(doc["user_id"]),
            provider=str(doc["provider"]),
            issuer=str(doc["issuer"]),
            subject=str(doc["subject"]),
            email=doc.get("email") if isinstance(doc.get("email"), str) else None,
            linked_at=linked if linked.tzinfo else linked.replace(tzinfo=timezone.utc),
        )


class IdentityStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._identities = collection

    async def ensure_indexes(self) -> None:
        await call_database(
            self._identities.create_index,
            [("issuer", ASCENDING), ("subject", ASCENDING)],
            unique=True,
        )
        await call_database(
            self._identities.create_index,
            [("user_id", ASCENDING), ("provider", ASCENDING)],
            unique=True,
        )

    async def find(self, issuer: str, subject: str) -> Identity | None:
        doc = await call_database(
            self._identities.find_one, {"issuer": str(issuer), "subject": str(subject)}
        )
        return None if doc is None else Identity.from_document(doc)

    async def link(self, user_id: str, provider: str, profile: Profile) -> bool:
        """Join `profile`'s identity to `user_id`; False when the identity, or another one of
        this provider for this user, is linked already (the unique indexes decide races)."""
        await self.ensure_indexes()
        doc = {
            "user_id": user_id,
            "provider": provider,
            "issuer": profile.issuer,
            "subject": profile.subject,
            "email": profile.email,
            "linked_at": datetime.now(timezone.utc),
        }
        try:
            await call_database(self._identities.insert_one, doc)
        except DuplicateKeyError:
            return False
        return True

    async def of_user(self, user_id: str) -> list[Identity]:
        def listed() -> list[dict[str, Any]]:
            return list(self._identities.find({"user_id": str(user_id)}).sort("linked_at", 1))

        return [Identity.from_document(doc) for doc in await call_database(listed)]

    async def remove(self, user_id: str, provider: str) -> dict[str, Any] | None:
        """The removed identity's document (to put back if it was the last way in), or None."""
        doc: dict[str, Any] | None = await call_database(
            self._identities.find_one_and_delete,
            {"user_id": str(user_id), "provider": str(provider)},
        )
        return doc

    async def restore(self, doc: dict[str, Any]) -> None:
        # DuplicateKeyError: linked again meanwhile, so there is a way in.
        with contextlib.suppress(DuplicateKeyError):
            await call_database(self._identities.insert_one, doc)
