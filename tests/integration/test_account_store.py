"""The accounts' writes against a real MongoDB-protocol server (SecantusDB): the sparse
unique index on addresses, which index refused a sign-up, mailed tokens used once, and a
verification that lost a race with an address change. The same rules through the app on
mongomock: tests/unit/test_accounts_*.py."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from pymongo.database import Database

from authkit.accounts.store import AccountRecords
from authkit.accounts.tokens import MailTokens
from authkit.core.errors import EmailAlreadyInUse, UserAlreadyExists
from authkit.users.store import MongoUserStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
HASH = "$2b$04$" + "x" * 53


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_addresses_are_unique_when_present_and_the_refusal_names_the_right_one(
    mongo_db: Database[dict[str, Any]],
) -> None:
    store = MongoUserStore(mongo_db["users"])
    run(store.create("nomail1", HASH))
    run(store.create("nomail2", HASH))  # any number of users without one
    run(store.create_with_email("alice", HASH, "alice@example.com"))
    with pytest.raises(EmailAlreadyInUse):
        run(store.create_with_email("bobby", HASH, "Alice@example.com"))
    with pytest.raises(UserAlreadyExists):
        run(store.create_with_email("alice", HASH, "other@example.com"))
    assert mongo_db["users"].index_information()["email_key_1"].get("unique") is True


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
