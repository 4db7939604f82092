"""MongoUserStore against a real MongoDB-protocol server (SecantusDB, or AUTHKIT_TEST_MONGO_URI).

The unit tests run the same store on mongomock (tests/unit/test_app.py,
tests/unit/test_strategies.py); these check what only a real server does: the
unique index really is built and enforced, documents the NestJS app (mongoose)
wrote are read as they are, and a username that looks like a query operator is
sent as a literal string.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import bcrypt
import pytest
from bson import ObjectId
from pymongo.collection import Collection
from pymongo.database import Database

from authkit.core.errors import UserAlreadyExists
from authkit.passwords.hasher import PasswordHasher
from authkit.users.store import MongoUserStore, User

pytestmark = pytest.mark.integration

T = TypeVar("T")
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
HASH = bcrypt.hashpw(b"some-password", bcrypt.gensalt(4)).decode("ascii")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def users(mongo_db: Database[dict[str, Any]]) -> Collection[dict[str, Any]]:
    return mongo_db["users"]


@pytest.fixture
def store(users: Collection[dict[str, Any]]) -> MongoUserStore:
    return MongoUserStore(users)


def test_ensure_indexes_creates_the_unique_username_index(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    run(store.ensure_indexes())
    # A second store on the same collection (another worker) finds it there and is fine.
    run(MongoUserStore(users).ensure_indexes())

    indexes = users.index_information()
    assert "username_1" in indexes, indexes
    assert indexes["username_1"]["key"] == [("username", 1)]
    assert indexes["username_1"].get("unique") is True


def test_create_on_a_fresh_collection_builds_the_index_first(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    run(store.create("alice", HASH))

    assert users.index_information()["username_1"].get("unique") is True


def test_create_then_find_returns_the_same_user_in_the_mongoose_layout(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    created = run(store.create("alice", HASH))
    found = run(store.find_by_username("alice"))

    assert found == created
    assert found is not None and found.password_hash == HASH
    doc = users.find_one({"username": "alice"})
    assert doc is not None
    # mongoose's fields and authkit's own (the canonical name, the NFC mark): mongoose
    # ignores fields its schema does not name.
    assert sorted(doc) == [
        "__v",
        "_id",
        "password",
        "password_nfc",
        "username",
        "username_canonical",
        "username_key",
    ]
    assert isinstance(doc["_id"], ObjectId) and str(doc["_id"]) == created.id
    assert doc["password"] == HASH and doc["__v"] == 0


def test_duplicate_username_raises_user_already_exists(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    run(store.create("alice", HASH))

    with pytest.raises(UserAlreadyExists):
        run(store.create("alice", HASH))
    # Another store instance (a second worker) is stopped by the same index.
    with pytest.raises(UserAlreadyExists):
        run(MongoUserStore(users).create("alice", HASH))
    assert users.count_documents({"username": "alice"}) == 1


def test_usernames_differing_in_case_or_lookalikes_are_one_user(store: MongoUserStore) -> None:
    alice = run(store.create("alice", HASH))
    for spelling in ("ALICE", "\u0430lice", "alice "):
        with pytest.raises(UserAlreadyExists):
            run(store.create(spelling, HASH))
    assert run(store.find_by_username("ALICE")) == alice


def test_node_users_get_canonical_names_and_keep_their_own_when_they_collide(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    users.create_index("username", unique=True)  # as mongoose's autoIndex left it
    ids = {name: ObjectId() for name in ("Carol", "carol", "c\u200barol")}
    users.insert_many(
        [{"_id": oid, "username": name, "password": HASH, "__v": 0} for name, oid in ids.items()]
    )
    run(store.ensure_indexes())  # sparse: documents without the fields do not collide
    run(store.backfill_names())

    with_fields = users.count_documents({"username_key": {"$exists": True}})
    assert with_fields == 1  # one of Carol and carol; c<ZWSP>arol has no canonical form
    for name, oid in ids.items():
        found = run(store.find_by_username(name))
        assert found is not None and found.id == str(oid), repr(name)
    with pytest.raises(UserAlreadyExists):
        run(store.create("CAROL", HASH))


def test_reads_documents_written_by_the_nestjs_app(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    node = json.loads((DATA_DIR / "node-compat.json").read_text("utf-8"))
    users.create_index("username", unique=True)  # as mongoose's autoIndex left it
    users.insert_many(
        [
            {"_id": ObjectId(u["_id"]), "username": u["username"], "password": u["hash"], "__v": 0}
            for u in node["users"]
        ]
    )
    hasher = PasswordHasher(4)

    for u in node["users"]:
        found = run(store.find_by_username(u["username"]))
        assert found == User(id=u["_id"], username=u["username"], password_hash=u["hash"])
        assert run(hasher.verify(u["password"], found.password_hash)), u["username"]
    # and the index mongoose made is the one authkit wants: ensure_indexes accepts it
    run(store.ensure_indexes())
    with pytest.raises(UserAlreadyExists):
        run(store.create(node["users"][0]["username"], HASH))


def test_find_of_a_missing_user_returns_none(store: MongoUserStore) -> None:
    run(store.create("alice", HASH))

    assert run(store.find_by_username("bob")) is None
    assert run(store.find_by_username("")) is None


def test_a_document_without_a_password_string_is_no_user(
    store: MongoUserStore, users: Collection[dict[str, Any]]
) -> None:
    users.insert_many(
        [{"username": "nopass", "__v": 0}, {"username": "numpass", "password": 12345, "__v": 0}]
    )

    assert run(store.find_by_username("nopass")) is None
    assert run(store.find_by_username("numpass")) is None


@pytest.mark.parametrize(
    "username",
    ['{"$ne": null}', "{'$ne': None}", "$ne", '{"$gt": ""}', "$where", "a.b", "{}"],
)
def test_operator_looking_usernames_are_literal_strings(
    store: MongoUserStore, users: Collection[dict[str, Any]], username: str
) -> None:
    run(store.create("alice", HASH))

    assert run(store.find_by_username(username)) is None  # never matches alice
    created = run(store.create(username, HASH))
    assert run(store.find_by_username(username)) == created
    assert users.find_one({"username": username}) is not None
    assert users.count_documents({}) == 2


def test_a_mapping_passed_as_username_is_not_a_query(store: MongoUserStore) -> None:
    run(store.create("alice", HASH))

    # The str annotation is not enforced at runtime; the store must still never send an operator.
    assert run(store.find_by_username({"$ne": None})) is None  # type: ignore[arg-type]
