"""The second factors' stores on a real MongoDB-protocol server (SecantusDB, or
AUTHKIT_TEST_MONGO_URI): what mongomock cannot show.

Enrolling while TOTP is on is refused by the server (the conditional upsert collides on
`_id`); of many threads, each with its own connection, exactly one uses a time step, a
recovery code, or a challenge; a challenge's expiry has a TTL index.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from authkit.mfa.challenges import MFAChallenges
from authkit.mfa.store import MongoFactorStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
ALICE = "6650c0ffee0123456789abcd"
RACERS = 8


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def race(mongo_uri: str, db_name: str, attempt: Callable[[Database[dict[str, Any]]], T]) -> list[T]:
    barrier = threading.Barrier(RACERS)

    def one(_: int) -> T:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        try:
            barrier.wait(timeout=30)
            return attempt(client[db_name])
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


def test_enrolling_while_totp_is_on_is_refused(mongo_db: Database[dict[str, Any]]) -> None:
    store = MongoFactorStore(mongo_db["mfa_factors"])
    assert run(store.begin_enrolment(ALICE, b"first"))
    assert run(store.begin_enrolment(ALICE, b"second"))  # a pending one is replaced
    assert not run(store.confirm(ALICE, b"first", 10, []))
    assert run(store.confirm(ALICE, b"second", 10, ["h1"]))
    assert not run(store.begin_enrolment(ALICE, b"third"))
    assert run(store.get(ALICE)).totp == b"second"


def test_one_time_step_one_code_one_challenge_of_many_at_once(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    store = MongoFactorStore(mongo_db["mfa_factors"])
    run(store.begin_enrolment(ALICE, b"sealed"))
    run(store.confirm(ALICE, b"sealed", 10, ["h1", "h2"]))
    steps = race(
        mongo_uri, db_name, lambda db: run(MongoFactorStore(db["mfa_factors"]).use_step(ALICE, 11))
    )
    assert steps.count(True) == 1
    codes = race(
        mongo_uri,
        db_name,
        lambda db: run(MongoFactorStore(db["mfa_factors"]).use_code(ALICE, "h1")),
    )
    assert codes.count(True) == 1
    assert run(store.get(ALICE)).recovery_left == 1

    challenges = MFAChallenges(mongo_db["mfa_challenges"])
    token = run(challenges.open(ALICE))
    won = race(
        mongo_uri, db_name, lambda db: run(MFAChallenges(db["mfa_challenges"]).consume(token))
    )
    assert won.count(ALICE) == 1 and won.count(None) == RACERS - 1
    indexes = mongo_db["mfa_challenges"].index_information()
    assert any(i.get("expireAfterSeconds") == 0 for i in indexes.values())
