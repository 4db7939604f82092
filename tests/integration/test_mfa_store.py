"""The second factors' stores on a real MongoDB-protocol server (SecantusDB, or
AUTHKIT_TEST_MONGO_URI): what mongomock cannot show.

Enrolling while TOTP is on is refused by the server (the conditional upsert collides on
`_id`); of many threads, each with its own connection, exactly one uses a time step, a
recovery code, or a challenge; a challenge's expiry has a TTL index.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.database import Database
from support.races import RACERS, finish, race_on_server

from authkit.mfa.challenges import MFAChallenges
from authkit.mfa.store import MongoFactorStore

pytestmark = pytest.mark.integration

ALICE = "6650c0ffee0123456789abcd"


def test_enrolling_while_totp_is_on_is_refused(mongo_db: Database[dict[str, Any]]) -> None:
    store = MongoFactorStore(mongo_db["mfa_factors"])
    assert finish(store.begin_enrolment(ALICE, b"first"))
    assert finish(store.begin_enrolment(ALICE, b"second"))  # a pending one is replaced
    assert not finish(store.confirm(ALICE, b"first", 10, []))
    assert finish(store.confirm(ALICE, b"second", 10, ["h1"]))
    assert not finish(store.begin_enrolment(ALICE, b"third"))
    assert finish(store.get(ALICE)).totp == b"second"


def test_one_time_step_one_code_one_challenge_of_many_at_once(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    store = MongoFactorStore(mongo_db["mfa_factors"])
    finish(store.begin_enrolment(ALICE, b"sealed"))
    finish(store.confirm(ALICE, b"sealed", 10, ["h1", "h2"]))
    steps = race_on_server(
        mongo_uri,
        db_name,
        lambda db: finish(MongoFactorStore(db["mfa_factors"]).use_step(ALICE, 11)),
    )
    assert steps.count(True) == 1
    codes = race_on_server(
        mongo_uri,
        db_name,
        lambda db: finish(MongoFactorStore(db["mfa_factors"]).use_code(ALICE, "h1")),
    )
    assert codes.count(True) == 1
    assert finish(store.get(ALICE)).recovery_left == 1

    challenges = MFAChallenges(mongo_db["mfa_challenges"])
    token = finish(challenges.open(ALICE))
    won = race_on_server(
        mongo_uri, db_name, lambda db: finish(MFAChallenges(db["mfa_challenges"]).consume(token))
    )
    assert won.count(ALICE) == 1 and won.count(None) == RACERS - 1
    indexes = mongo_db["mfa_challenges"].index_information()
    assert any(i.get("expireAfterSeconds") == 0 for i in indexes.values())
