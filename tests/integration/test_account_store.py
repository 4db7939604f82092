"""The accounts' writes against a real MongoDB-protocol server (SecantusDB): only verified
addresses unique (and the index from before migrated), many users verifying one address
at once, mailed tokens used once, and a verification that lost a race with an address
change. The same rules through the app on
mongomock: tests/unit/test_accounts_*.py."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from pymongo.database import Database
from support.races import RACERS, finish, race_on_server

from authkit.accounts.store import AccountRecords
from authkit.accounts.tokens import MailTokens
from authkit.core.errors import EmailAlreadyInUse, UserAlreadyExists
from authkit.users.store import MongoUserStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
HASH = "$2b$04$" + "x" * 53


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_only_a_verified_address_is_unique_and_a_sign_up_is_refused_for_its_name_only(
    mongo_db: Database[dict[str, Any]],
) -> None:
    store = MongoUserStore(mongo_db["users"])
    records = AccountRecords(mongo_db["users"])
    run(store.create("nomail1", HASH))
    run(store.create("nomail2", HASH))  # any number of users without one
    alice = run(store.create_with_email("alice", HASH, "alice@example.com"))
    bobby = run(store.create_with_email("bobby", HASH, "Alice@example.com"))  # a claim too
    with pytest.raises(UserAlreadyExists):
        run(store.create_with_email("alice", HASH, "other@example.com"))
    assert run(records.confirm(alice.id, "alice@example.com")) is True
    # Bobby's claim went with Alice's verification; he cannot verify it any more.
    assert run(records.confirm(bobby.id, "Alice@example.com")) is False
    assert "email" not in (mongo_db["users"].find_one({"username": "bobby"}) or {})
    assert run(records.verified_owner("ALICE@example.com")) == alice.id
    indexes = mongo_db["users"].index_information()
    assert indexes["verified_email_key_1"].get("unique") is True
    assert not indexes["email_key_1"].get("unique")


def test_of_many_users_verifying_one_address_at_once_one_gets_it(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    store = MongoUserStore(mongo_db["users"])
    run(store.ensure_indexes())
    names = [f"user{i}" for i in range(RACERS)]
    ids = {n: run(store.create_with_email(n, HASH, "shared@example.com")).id for n in names}
    turn = iter(names)
    lock = threading.Lock()

    def verify(db: Database[dict[str, Any]]) -> str:
        with lock:
            name = next(turn)
        try:
            won = finish(AccountRecords(db["users"]).confirm(ids[name], "shared@example.com"))
        except EmailAlreadyInUse:
            return "refused"
        return "won" if won else "dropped"

    outcomes = race_on_server(mongo_uri, db_name, verify)
    assert outcomes.count("won") == 1, outcomes
    owners = list(mongo_db["users"].find({"email_verified": True}))
    assert len(owners) == 1 and owners[0]["verified_email_key"] == "shared@example.com"


def _legacy_user(users: Any, name: str, email: str, *, verified: bool, **more: Any) -> None:
    users.insert_one(
        {"username": name, "email": email, "email_key": email, "email_verified": verified, **more}
    )


def test_a_database_from_before_keeps_its_verified_addresses_unique(
    mongo_db: Database[dict[str, Any]],
) -> None:
    users = mongo_db["users"]
    # As the previous version left it: a unique index on email_key, no verified_email_key.
    users.create_index("email_key", unique=True, sparse=True)
    _legacy_user(users, "alice", "a@example.com", verified=True)
    _legacy_user(users, "bobby", "b@example.com", verified=False)
    store = MongoUserStore(users)
    # The first lookup repairs (as it does when the database was down at start).
    assert run(store.find_by_verified_email("A@example.com")) is not None
    run(MongoUserStore(users).ensure_indexes())  # another process's start: nothing to do
    assert not users.index_information()["email_key_1"].get("unique")
    alice = users.find_one({"username": "alice"}) or {}
    assert alice["verified_email_key"] == "a@example.com"
    assert "verified_email_key" not in (users.find_one({"username": "bobby"}) or {})
    # The address Bobby claimed without verifying is free to claim again.
    run(store.create_with_email("carol", HASH, "b@example.com"))


def test_what_an_older_version_beside_this_one_wrote_is_repaired_at_start(
    mongo_db: Database[dict[str, Any]],
) -> None:
    users = mongo_db["users"]
    run(MongoUserStore(users).ensure_indexes())
    # Verified by an old instance: no key; moved by one: the old key left behind; a key on
    # an unverified address; and an address two users verified, one on each version.
    _legacy_user(users, "alice", "new@example.com", verified=True,
                 verified_email_key="old@example.com")  # fmt: skip
    _legacy_user(users, "bobby", "b@example.com", verified=True)
    _legacy_user(users, "carol", "c@example.com", verified=False,
                 verified_email_key="c@example.com")  # fmt: skip
    _legacy_user(users, "dave", "d@example.com", verified=True, verified_email_key="d@example.com")
    _legacy_user(users, "erin", "d@example.com", verified=True)
    run(MongoUserStore(users).ensure_indexes())  # the next start
    keys = {d["username"]: d.get("verified_email_key") for d in users.find()}
    assert keys == {
        "alice": "new@example.com",
        "bobby": "b@example.com",
        "carol": None,
        "dave": "d@example.com",
        "erin": None,
    }
    assert (users.find_one({"username": "erin"}) or {})["email_verified"] is False
    records = AccountRecords(users)
    assert run(records.verified_owner("old@example.com")) is None


def test_a_token_is_used_once_and_a_stale_verification_changes_nothing(
    mongo_db: Database[dict[str, Any]],
) -> None:
    store = MongoUserStore(mongo_db["users"])
    records = AccountRecords(mongo_db["users"], [(mongo_db["oauth_identities"], "user_id")])
    tokens = MailTokens(mongo_db["account_tokens"])
    run(tokens.ensure_indexes())
    user = run(store.create_with_email("carol", HASH, "carol@example.com"))
    now = datetime.now(timezone.utc)
    token = run(tokens.issue("verify_email", user.id, "carol@example.com", timedelta(hours=1), now))

    async def use_twice() -> list[Any]:
        return list(
            await asyncio.gather(*(tokens.use("verify_email", token, now) for _ in range(2)))
        )

    assert sorted(doc is None for doc in run(use_twice())) == [False, True]
    assert run(records.confirm(user.id, "carol@example.com")) is True
    assert run(records.request_email(user.id, "new@example.com")) == "pending"
    assert run(records.request_email(user.id, "newer@example.com")) == "pending"
    assert run(records.confirm(user.id, "new@example.com")) is False  # replaced since
    doc = mongo_db["users"].find_one({"username": "carol"})
    assert doc is not None
    assert (doc["email"], doc["email_pending"]) == ("carol@example.com", "newer@example.com")
