"""The session store, the denylist and the user-store additions on a real MongoDB-protocol
server (SecantusDB, or AUTHKIT_TEST_MONGO_URI).

The same code on mongomock: tests/unit/test_lifecycle.py. Here, what only a real server
shows: the TTL and lookup indexes exist, `find_one_and_update` lets exactly one of many
concurrent consumers (separate threads, separate connections) have a token, and the
user document keeps the NestJS app's layout plus `token_version`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from authkit.sessions.revocation import MongoDenylist
from authkit.sessions.store import MongoSessionStore, hash_token, new_refresh_token
from authkit.users.store import MongoUserStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
NOW = datetime(2027, 1, 15, 8, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=14)
HASH = "$2b$04$abcdefghijklmnopqrstuu8Ym0Xd4lRnBQGyNwDcJyGJkQ1uVzX4G"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def store(mongo_db: Database[dict[str, Any]]) -> MongoSessionStore:
    store = MongoSessionStore(mongo_db["auth_sessions"], mongo_db["refresh_tokens"])
    run(store.ensure_indexes())
    return store


def ttl_fields(indexes: dict[str, Any]) -> list[str]:
    return [
        index["key"][0][0] for index in indexes.values() if index.get("expireAfterSeconds") == 0
    ]


def test_indexes_expire_sessions_tokens_and_denials(
    store: MongoSessionStore, mongo_db: Database[dict[str, Any]]
) -> None:
    denylist = MongoDenylist(mongo_db["revoked_tokens"])
    run(denylist.ensure_indexes())
    run(store.ensure_indexes())  # a second worker starting up: fine

    assert ttl_fields(mongo_db["auth_sessions"].index_information()) == ["expires_at"]
    assert ttl_fields(mongo_db["refresh_tokens"].index_information()) == ["expires_at"]
    assert ttl_fields(mongo_db["revoked_tokens"].index_information()) == ["expires_at"]
    keys = [i["key"] for i in mongo_db["refresh_tokens"].index_information().values()]
    assert [("session_id", 1)] in keys and [("user_id", 1)] in keys


def test_a_session_round_trip_stores_hashes_and_ends_on_revoke(
    store: MongoSessionStore, mongo_db: Database[dict[str, Any]]
) -> None:
    token = new_refresh_token()
    session = run(store.start("u1", "curl/8.5", hash_token(token), NOW, LATER))

    (listed,) = run(store.active("u1", NOW))
    assert listed == session
    doc = mongo_db["refresh_tokens"].find_one()
    assert doc is not None and doc["_id"] == hash_token(token)
    assert token not in str(doc) + str(mongo_db["auth_sessions"].find_one())

    used = run(store.consume(hash_token(token), NOW))
    assert (used.outcome, used.session_id, used.user_id) == ("consumed", session.id, "u1")
    assert used.session_started_at == NOW
    successor = new_refresh_token()
    assert run(store.continue_session(session.id, "u1", hash_token(successor), NOW, LATER, NOW))
    assert run(store.consume(hash_token(token), NOW)).outcome == "reused"

    assert run(store.revoke(session.id, "u1", NOW))
    assert not run(store.revoke(session.id, "u1", NOW))
    assert run(store.consume(hash_token(successor), NOW)).outcome == "revoked"
    assert run(store.active("u1", NOW)) == []
    assert run(store.consume(hash_token("never-issued"), NOW)).outcome == "unknown"


def test_every_token_of_a_session_carries_its_start(store: MongoSessionStore) -> None:
    # A refresh learns how old its session is from the token it reads anyway.
    token = new_refresh_token()
    session = run(store.start("u1", None, hash_token(token), NOW, LATER))
    later = NOW + timedelta(hours=1)
    assert run(store.consume(hash_token(token), later)).session_started_at == NOW
    successor = new_refresh_token()
    assert run(store.continue_session(session.id, "u1", hash_token(successor), later, LATER, NOW))
    used = run(store.consume(hash_token(successor), later + timedelta(hours=1)))
    assert (used.outcome, used.session_started_at) == ("consumed", NOW)


def test_an_expired_token_is_not_consumed(store: MongoSessionStore) -> None:
    token = new_refresh_token()
    run(store.start("u1", None, hash_token(token), NOW, NOW + timedelta(seconds=10)))
    assert run(store.consume(hash_token(token), NOW + timedelta(seconds=10))).outcome == "expired"


def test_a_released_token_can_be_used_again_unless_its_session_ended(
    store: MongoSessionStore,
) -> None:
    token = new_refresh_token()
    session = run(store.start("u1", None, hash_token(token), NOW, LATER))
    assert run(store.consume(hash_token(token), NOW)).outcome == "consumed"
    run(store.release(hash_token(token)))  # the refresh failed after using it up
    assert run(store.consume(hash_token(token), NOW)).outcome == "consumed"
    assert run(store.is_live(session.id, "u1", NOW))
    assert not run(store.is_live(session.id, "someone-else", NOW))
    run(store.revoke(session.id, "u1", NOW))
    run(store.release(hash_token(token)))  # too late: nothing to give back to
    assert run(store.consume(hash_token(token), NOW)).outcome != "consumed"
    assert not run(store.is_live(session.id, "u1", NOW))


def test_a_revoked_session_takes_no_successor(store: MongoSessionStore) -> None:
    # A refresh that consumed its token just before a sign-out must not leave a live token.
    token = new_refresh_token()
    session = run(store.start("u1", None, hash_token(token), NOW, LATER))
    assert run(store.consume(hash_token(token), NOW)).outcome == "consumed"
    run(store.revoke_all("u1", NOW))
    successor = new_refresh_token()
    assert not run(store.continue_session(session.id, "u1", hash_token(successor), NOW, LATER, NOW))
    assert run(store.consume(hash_token(successor), NOW)).outcome == "revoked"


def test_exactly_one_of_many_concurrent_consumers_gets_the_token(
    mongo_uri: str, db_name: str, store: MongoSessionStore
) -> None:
    token = new_refresh_token()
    run(store.start("u1", None, hash_token(token), NOW, LATER))
    attempts = 16
    barrier = threading.Barrier(attempts)

    def consume(_: int) -> str:
        # A client of its own per thread: as separate workers would have.
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        try:
            mine = MongoSessionStore(
                client[db_name]["auth_sessions"], client[db_name]["refresh_tokens"]
            )
            barrier.wait(timeout=30)
            return run(mine.consume(hash_token(token), NOW)).outcome
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        outcomes = list(pool.map(consume, range(attempts)))
    assert sorted(outcomes) == ["consumed"] + ["reused"] * (attempts - 1)


def test_the_denylist_on_a_real_server(mongo_db: Database[dict[str, Any]]) -> None:
    denylist = MongoDenylist(mongo_db["revoked_tokens"])
    run(denylist.ensure_indexes())
    assert not run(denylist.is_denied("j1", "s1"))
    run(denylist.deny_token("j1", NOW))
    run(denylist.deny_token("j1", LATER))  # twice: the later expiry wins
    run(denylist.deny_session("s1", NOW))
    assert run(denylist.is_denied("j1", None))
    assert run(denylist.is_denied(None, "s1"))
    assert run(denylist.is_denied("other", "s1"))
    assert not run(denylist.is_denied("other", "s2"))
    assert not run(denylist.is_denied(None, None))
    entry = mongo_db["revoked_tokens"].find_one({"_id": "jti:j1"})
    assert entry is not None
    assert entry["expires_at"].replace(tzinfo=timezone.utc) == LATER


def test_token_versions_and_hash_upgrades_keep_the_mongoose_layout(
    mongo_db: Database[dict[str, Any]],
) -> None:
    users = MongoUserStore(mongo_db["users"])
    alice = run(users.create("alice", HASH))
    assert run(users.token_version(alice.id)) == 0
    assert run(users.bump_token_version(alice.id)) == 1
    assert run(users.bump_token_version(alice.id)) == 2
    assert run(users.token_version(alice.id)) == 2
    found = run(users.find_by_id(alice.id))
    assert found is not None and found.token_version == 2

    new_hash = HASH.replace("$04$", "$05$")
    assert not run(users.replace_password_hash(alice.id, "some other hash", new_hash))
    assert run(users.replace_password_hash(alice.id, HASH, new_hash))
    doc = mongo_db["users"].find_one({"username": "alice"})
    assert doc is not None
    assert sorted(doc) == [
        "__v",
        "_id",
        "password",
        "password_nfc",
        "token_version",
        "username",
        "username_canonical",
        "username_key",
    ]
    assert (doc["password"], doc["token_version"], doc["__v"]) == (new_hash, 2, 0)

    for unknown in ("6650c0ffee0123456789abcd", "not-an-id"):
        assert run(users.token_version(unknown)) is None
        assert run(users.find_by_id(unknown)) is None
        assert run(users.bump_token_version(unknown)) == 0
