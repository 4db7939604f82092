"""The passkeys' stores on a real MongoDB-protocol server (SecantusDB, or
AUTHKIT_TEST_MONGO_URI): what mongomock cannot show.

Of many threads, each with its own connection, exactly one consumes a WebAuthn challenge
and exactly one moves a passkey's sign counter from the value it read; one credential id
is registered once (the unique index); both collections have the indexes they rely on.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pymongo.database import Database
from support.races import finish, race_on_server

from authkit.core.errors import Conflict
from authkit.passkeys.challenges import WebAuthnChallenges
from authkit.passkeys.store import MongoPasskeyStore, NewPasskey

pytestmark = pytest.mark.integration

ALICE = "6650c0ffee0123456789abcd"


def test_one_consumer_of_a_challenge_of_many_at_once(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    challenges = WebAuthnChallenges(mongo_db["webauthn_challenges"])
    finish(challenges.ensure_indexes())
    issued = finish(challenges.issue("signin"))

    def consume(db: Database[dict[str, Any]]) -> bool:
        found = finish(WebAuthnChallenges(db["webauthn_challenges"]).consume(issued.id, "signin"))
        return found is not None and found.challenge == issued.challenge

    assert race_on_server(mongo_uri, db_name, consume).count(True) == 1
    indexes = mongo_db["webauthn_challenges"].index_information()
    assert any(i.get("expireAfterSeconds") == 0 for i in indexes.values())


def test_one_sign_counter_move_of_many_at_once(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    store = MongoPasskeyStore(mongo_db["passkeys"])
    finish(store.ensure_indexes())
    now = datetime.now(timezone.utc)
    key = finish(store.add(ALICE, NewPasskey(b"credential-1", b"cose", 3), "Laptop", now))

    def advance(db: Database[dict[str, Any]]) -> bool:
        return finish(MongoPasskeyStore(db["passkeys"]).advance(key, 4, now))

    moved = race_on_server(mongo_uri, db_name, advance)
    assert moved.count(True) == 1
    assert finish(store.of_user(ALICE))[0].sign_count == 4


def test_a_credential_is_registered_once(mongo_db: Database[dict[str, Any]]) -> None:
    store = MongoPasskeyStore(mongo_db["passkeys"])
    finish(store.ensure_indexes())
    now = datetime.now(timezone.utc)
    finish(store.add(ALICE, NewPasskey(b"credential-1", b"cose", 0), "Laptop", now))
    with pytest.raises(Conflict):
        finish(
            store.add("6650c0ffee0123456789abce", NewPasskey(b"credential-1", b"x", 0), "Mine", now)
        )
    assert [k.user_id for k in finish(store.of_user(ALICE))] == [ALICE]
    assert finish(store.methods_for(ALICE)) == ["passkey"]
    assert finish(store.methods_for("6650c0ffee0123456789abce")) == []
