"""Users: the record, the store protocol, and the MongoDB store.

The collection layout is the NestJS app's (mongoose): `{_id: ObjectId,
username, password: <bcrypt hash>, __v: 0}` with a unique index on
`username`, so authkit and that app can share a database. Fields of ours
may appear; mongoose ignores fields its schema does not name:

- `token_version`, a counter that `signout-all` raises (absent means 0);
- `username_canonical` and `username_key`: the name's canonical form and its
  look-alike key (authkit.users.names), each uniquely indexed (sparse: the
  NestJS app's documents have neither until `backfill_names` gives them theirs);
- `password_nfc: true`: the hash was made by authkit from the NFC form of the
  password; without it the hash may be the NestJS app's, of the text as typed;
- `roles`, a list of strings (absent: none), which access tokens carry in their `roles`
  claim, and `disabled: true` on a user an administrator disabled (authkit.admin): such a
  user cannot sign in or refresh, and with revocation checks their tokens stop at once;
- `email`, `email_key` (its case-folded key) and `email_verified`: an optional address
  (authkit.accounts). Only a verified address is unique: `verified_email_key` holds the key
  while, and only while, the address is verified, under a unique index. An unverified
  address is a claim that several users may make at once; whoever verifies it first gets
  it, and the other claims are dropped then (authkit.accounts.store).

A name is looked up exactly as stored first, then by its canonical form: a user
the NestJS app made keeps signing in by the name as written even when another
one's name canonicalises the same (`authkit check` lists such pairs), and
`Alice`, fullwidth `ALICE` or `alice ` all find the user who signed up as `alice`.
A sign-up whose look-alike key is taken is refused as a duplicate (409).

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

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from authkit.core.errors import UserAlreadyExists
from authkit.storage.database import call_database
from authkit.users.email_keys import EMAIL_KEY, VERIFIED_EMAIL_KEY, EmailKeys
from authkit.users.emails import email_key
from authkit.users.names import UsernameRefused, canonical_username, lookalike_key

__all__ = [
    "AccountStore",
    "EmailUserStore",
    "MongoUserStore",
    "User",
    "UserStore",
    "name_fields",
    "roles_of",
]

logger = logging.getLogger("authkit.users")
_NAME_FIELDS = ("username_canonical", "username_key")
# The address's case-folded key (authkit.users.emails), verified or not: looked up, not
# unique; the same key present only on a verified address, unique (authkit.users.email_keys).
_EMAIL_KEY = EMAIL_KEY


@attrs.frozen
class User:
    id: str
    username: str
    password_hash: str = attrs.field(repr=False)
    # Raised by signout-all; access tokens carry the value they were issued under.
    token_version: int = 0
    # The hash is of the password's NFC form, as authkit hashes (see PasswordHasher).
    password_nfc: bool = False
    # Optional, canonical (authkit.users.emails); only a verified one receives resets.
    email: str | None = None
    email_verified: bool = False
    # An address the user asked to change to, waiting for its verification.
    pending_email: str | None = None

    # What access tokens carry in `roles` (authkit.admin sets them); none by default.
    roles: tuple[str, ...] = ()
    # Set by an administrator: no sign-in, no refresh.
    disabled: bool = False

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> User:
        return cls(
            id=str(doc["_id"]),
            username=doc["username"],
            # "" for a user with no password (made by social sign-in): no password matches it.
            password_hash=doc["password"] if isinstance(doc.get("password"), str) else "",
            token_version=_token_version(doc),
            password_nfc=doc.get("password_nfc") is True,
            email=_text_or_none(doc.get("email")),
            email_verified=doc.get("email_verified") is True,
            pending_email=_text_or_none(doc.get("email_pending")),
            roles=roles_of(doc),
            disabled=doc.get("disabled") is True,
        )


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def roles_of(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The roles a user document holds: its `roles` list's strings (absent or not a list: none)."""
    roles = doc.get("roles")
    if not isinstance(roles, list):
        return ()
    return tuple(dict.fromkeys(r for r in roles if isinstance(r, str)))


def _token_version(doc: Mapping[str, Any]) -> int:
    # Absent (every NestJS-made user) or not a number: 0, as if never signed out everywhere.
    version = doc.get("token_version", 0)
    return version if isinstance(version, int) else 0


class UserStore(Protocol):
    """What sign-up and sign-in need."""

    async def find_by_username(self, username: str) -> User | None: ...

    async def create(self, username: str, password_hash: str) -> User: ...


@runtime_checkable
class EmailUserStore(UserStore, Protocol):
    """A store that keeps an email address with the user (sign-up with `email`)."""

    async def create_with_email(self, username: str, password_hash: str, email: str) -> User: ...


@runtime_checkable
class AccountStore(UserStore, Protocol):
    """What refresh, sign-out and hash upgrades need beyond a UserStore."""

    async def find_by_id(self, user_id: str) -> User | None: ...

    async def token_version(self, user_id: str) -> int | None: ...

    async def bump_token_version(self, user_id: str) -> int: ...

    async def replace_password_hash(self, user_id: str, old_hash: str, new_hash: str) -> bool: ...


def name_fields(username: str) -> dict[str, str]:
    """The canonical-name fields of a document for `username`; none when it has no
    canonical form (a NestJS-made name with a zero-width space: found exactly only)."""
    try:
        canonical = canonical_username(username)
    except UsernameRefused:
        return {}
    return {"username_canonical": canonical, "username_key": lookalike_key(canonical)}


def _object_id(user_id: str) -> ObjectId | None:
    """The `_id` a user id names; None for text that cannot be one (a forged `sub`)."""
    return ObjectId(user_id) if isinstance(user_id, str) and ObjectId.is_valid(user_id) else None


class MongoUserStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._users = collection
        self.email_keys = EmailKeys(collection)

    async def ensure_indexes(self) -> None:
        """Create the unique `username` index (what mongoose's autoIndex makes: `username_1`)
        and the unique sparse indexes on the canonical name, its look-alike key and the
        verified address; and, once per process, the address keys repaired (EmailKeys).

        Asked of the server every time, not remembered: createIndexes on an existing
        index is a cheap no-op, and a collection dropped while we run (a reset, an
        in-memory server restarted) gets its index back before the next insert.
        """
        await call_database(self._users.create_index, "username", unique=True)
        for field in (*_NAME_FIELDS, VERIFIED_EMAIL_KEY):
            await call_database(self._users.create_index, field, unique=True, sparse=True)
        await self.email_keys.repair_once()

    async def backfill_names(self) -> None:
        """Give every user without them (the NestJS app's) the canonical-name fields, so a
        look-alike of their name cannot sign up. Run at start; a user the NestJS app adds
        later gets them at their first sign-in here. Users whose names collide once
        canonicalised keep them only on the first one met: `authkit check` lists the rest.

        One pass in one worker thread, streaming the users without the fields: one update
        per such user, once (afterwards only colliding names are still without them).
        """

        def backfill() -> int:
            collisions = 0
            for doc in self._users.find({"username_key": {"$exists": False}}, {"username": 1}):
                fields = (
                    name_fields(doc["username"]) if isinstance(doc.get("username"), str) else {}
                )
                if not fields:
                    continue
                try:
                    self._users.update_one(
                        {"_id": doc["_id"], "username_key": {"$exists": False}}, {"$set": fields}
                    )
                except DuplicateKeyError:
                    collisions += 1  # another user's name canonicalises the same
            return collisions

        collisions = await call_database(backfill)
        if collisions:
            logger.warning(
                "%d user name(s) collide with another once canonicalised; they sign in by "
                "their exact name only (`authkit check` lists them)",
                collisions,
            )

    async def _add_name_fields(self, doc: Mapping[str, Any]) -> bool:
        """Store the canonical-name fields on `doc`'s user; False when another user has them."""
        fields = name_fields(doc["username"])
        if not fields:
            return True
        try:
            await call_database(
                self._users.update_one,
                {"_id": doc["_id"], "username_key": {"$exists": False}},
                {"$set": fields},
            )
        except DuplicateKeyError:
            return False
        return True

    async def find_by_username(self, username: str) -> User | None:
        # The filters are built here from a str, never from client-supplied mappings,
        # so no client value can reach MongoDB as an operator.
        name = str(username)
        doc = await call_database(self._users.find_one, {"username": name})
        if doc is not None and "username_key" not in doc and isinstance(doc["username"], str):
            await self._add_name_fields(doc)  # a user the NestJS app made since we started
        if doc is None and (fields := name_fields(name)):
            query = {"username_canonical": fields["username_canonical"]}
            doc = await call_database(self._users.find_one, query)
        if doc is None or not isinstance(doc.get("password"), str):
            return None
        return User.from_document(doc)

    async def create(
        self, username: str, password_hash: str, *, roles: tuple[str, ...] = ()
    ) -> User:
        """A new user; UserAlreadyExists when the name, or one that looks like it, is taken.

        `password_hash` must come from PasswordHasher.hash, which hashes the NFC form.
        `roles` are stored only when there are some: a user without is the seed's document.
        """
        more = {"roles": list(dict.fromkeys(roles))} if roles else {}
        return await self._insert(username, password_hash, more)

    async def create_with_email(self, username: str, password_hash: str, email: str) -> User:
        """A new user with an unverified `email` (canonical: authkit.users.emails): a claim,
        never refused for its address, so that a sign-up does not tell whose address it is."""
        fields = {"email": email, _EMAIL_KEY: email_key(email), "email_verified": False}
        return await self._insert(username, password_hash, fields)

    async def _insert(self, username: str, password_hash: str, more: Mapping[str, Any]) -> User:
        # Without the unique indexes in place, two racing sign-ups could both get in.
        await self.ensure_indexes()
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "username": str(username),
            "password": password_hash,
            "__v": 0,
            **name_fields(str(username)),
            "password_nfc": True,
            **more,
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
        # A user with no password (social sign-in's) is a user too: its sessions refresh.
        if doc is None or not isinstance(doc.get("username"), str):
            return None
        return User.from_document(doc)

    async def create_without_password(self, username: str) -> User:
        """A new user who signs in another way (social sign-in) and cannot use /auth/signin
        until it has a password; UserAlreadyExists when the name, or a look-alike, is taken."""
        await self.ensure_indexes()
        doc: dict[str, Any] = {
            "_id": ObjectId(),
            "username": str(username),
            "__v": 0,
            **name_fields(str(username)),
        }
        try:
            await call_database(self._users.insert_one, doc)
        except DuplicateKeyError:
            raise UserAlreadyExists() from None
        return User.from_document(doc)

    async def remove_without_password(self, user_id: str) -> None:
        """Remove a user made by `create_without_password` that never got a way in (it lost a
        race to link its identity); a user with a password is left alone."""
        oid = _object_id(user_id)
        if oid is not None:
            await call_database(
                self._users.delete_one, {"_id": oid, "password": {"$exists": False}}
            )

    async def find_by_verified_email(self, email: str) -> User | None:
        """The user whose verified address (authkit.accounts) is `email`, whatever its case:
        one at most, as the index on `verified_email_key` is unique."""
        await self.email_keys.repair_once()
        query = {VERIFIED_EMAIL_KEY: email_key(str(email))}
        doc = await call_database(self._users.find_one, query)
        if doc is None or not isinstance(doc.get("username"), str):
            return None
        return User.from_document(doc)

    async def token_version(self, user_id: str) -> int | None:
        """The user's token version; None when there is no such user (any more), or it is
        disabled: revocation checks then refuse every token it holds."""
        oid = _object_id(user_id)
        if oid is None:
            return None
        projection = {"token_version": 1, "disabled": 1}
        doc = await call_database(self._users.find_one, {"_id": oid}, projection)
        if doc is None or doc.get("disabled") is True:
            return None
        return _token_version(doc)

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
        """Raise BackendUnavailable unless the database answers and the unique indexes exist.

        They are looked up, not remembered: one dropped behind our back is made again.
        """
        indexes = await call_database(self._users.index_information)
        names = ("username_1", *(f"{f}_1" for f in (*_NAME_FIELDS, VERIFIED_EMAIL_KEY)))
        unique = all(indexes.get(name, {}).get("unique") for name in names)
        if not unique or not self.email_keys.repaired:
            await self.ensure_indexes()
