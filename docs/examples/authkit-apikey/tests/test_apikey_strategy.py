"""APIKeyStrategy and APIKeyStore called directly, on mongomock: what a key holder gets.

A good key: Success with its owner and its scopes. Anything else: Fail with the
`APIKey header="X-API-Key"` challenge and the bare 401 message. The database keeps
only a digest of each key; last_used_at moves on use, at most once per interval.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from authkit.plugin import (
    AuthenticatedUser,
    BackendUnavailable,
    Fail,
    MongoUserStore,
    StrategyContext,
    Success,
    User,
)
from bson import ObjectId
from pymongo.errors import ServerSelectionTimeoutError
from starlette.requests import Request

from authkit_apikey import (
    CHALLENGE,
    APIKeyStore,
    APIKeyStrategy,
    Revocation,
    display_prefix,
    generate_key,
    hash_key,
    looks_like_key,
)
from authkit_apikey.strategy import database_of

pytestmark = pytest.mark.anyio

KeyRequest = Callable[[str], Request]
REFUSED = Fail(challenge='APIKey header="X-API-Key"')


def test_keys_are_ak_and_43_url_safe_characters_and_differ_every_time() -> None:
    made = {generate_key() for _ in range(200)}
    assert len(made) == 200
    for key in made:
        assert looks_like_key(key)
        assert len(key) == 46 and key.startswith("ak_")
        assert set(key[3:]) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_shape_check_refuses_near_misses() -> None:
    key = generate_key()
    for wrong in (key[:-1], key + "A", "AK_" + key[3:], "ak-" + key[3:], key[:-1] + "=", ""):
        assert not looks_like_key(wrong), wrong


def test_stored_form_is_the_sha256_and_the_prefix_shows_only_the_start() -> None:
    key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert display_prefix(key) == key[:11]


def test_strategy_declares_its_openapi_scheme_and_challenge() -> None:
    assert APIKeyStrategy.name == "apikey"
    assert APIKeyStrategy.openapi_scheme == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert CHALLENGE == 'APIKey header="X-API-Key"'


async def test_a_valid_key_authenticates_its_owner_with_its_scopes(
    strategy: APIKeyStrategy, keys: APIKeyStore, alice: User, key_request: KeyRequest
) -> None:
    record, key = await keys.create(
        user_id=alice.id, username="alice", label="ci", scopes=("reports:read", "a")
    )

    outcome = await strategy.authenticate(key_request(key))

    assert isinstance(outcome, Success)
    assert outcome.user == AuthenticatedUser(alice.id, "alice")
    assert outcome.user.claims == {"api_key_id": record.id}
    assert outcome.scopes == ("reports:read", "a")


async def test_the_database_holds_the_digest_and_never_the_key(
    keys: APIKeyStore, alice: User, db: Any
) -> None:
    record, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())

    doc = db["api_keys"].find_one({})
    assert doc["key_hash"] == hash_key(key)
    assert doc["prefix"] == key[:11] == record.prefix
    assert key not in repr(doc)
    assert key[11:] not in repr(doc)
    assert {"key_hash": 1} in [dict(i["key"]) for i in db["api_keys"].index_information().values()]
    assert db["api_keys"].index_information()["key_hash_1"]["unique"] is True


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("X-API-Key", "")],
        [("X-API-Key", "not-a-key")],
        [("X-API-Key", "ak_" + "A" * 42)],
        [("X-API-Key", b"ak_\xff" + b"A" * 42)],
        [("X-API-Key", "k" * 65536)],
        [("Authorization", "Bearer " + "ak_" + "A" * 43)],
    ],
    ids=["none", "empty", "junk", "too short", "latin-1 byte", "huge", "in Authorization"],
)
async def test_missing_or_malformed_keys_fail_with_the_challenge(
    strategy: APIKeyStrategy, make_request: Callable[..., Request], headers: Any
) -> None:
    assert await strategy.authenticate(make_request(headers)) == REFUSED


async def test_an_unknown_key_of_the_right_shape_fails(
    strategy: APIKeyStrategy, keys: APIKeyStore, alice: User, key_request: KeyRequest
) -> None:
    await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())
    assert await strategy.authenticate(key_request(generate_key())) == REFUSED


async def test_two_key_headers_fail_even_when_one_is_valid(
    strategy: APIKeyStrategy,
    keys: APIKeyStore,
    alice: User,
    make_request: Callable[..., Request],
) -> None:
    _, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())
    request = make_request([("X-API-Key", key), ("X-API-Key", generate_key())])
    assert await strategy.authenticate(request) == REFUSED


async def test_a_revoked_key_fails_and_revoking_again_says_so(
    strategy: APIKeyStrategy, keys: APIKeyStore, alice: User, key_request: KeyRequest
) -> None:
    record, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())
    assert isinstance(await strategy.authenticate(key_request(key)), Success)

    assert await keys.revoke(ObjectId(record.id)) is Revocation.REVOKED
    assert await strategy.authenticate(key_request(key)) == REFUSED
    assert await keys.revoke(ObjectId(record.id)) is Revocation.ALREADY_REVOKED
    assert await keys.revoke(ObjectId()) is Revocation.NOT_FOUND


async def test_only_the_owner_revokes_through_user_id(
    keys: APIKeyStore, alice: User, bob: User, strategy: APIKeyStrategy, key_request: KeyRequest
) -> None:
    record, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())
    assert await keys.revoke(ObjectId(record.id), user_id=bob.id) is Revocation.NOT_FOUND
    assert isinstance(await strategy.authenticate(key_request(key)), Success)
    assert await keys.revoke(ObjectId(record.id), user_id=alice.id) is Revocation.REVOKED


async def test_a_key_whose_owner_was_deleted_fails_even_if_the_name_is_taken_again(
    strategy: APIKeyStrategy,
    keys: APIKeyStore,
    users: MongoUserStore,
    alice: User,
    db: Any,
    key_request: KeyRequest,
) -> None:
    _, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=("x",))
    db["users"].delete_one({"username": "alice"})
    assert await strategy.authenticate(key_request(key)) == REFUSED

    await users.create("alice", "$2b$04$another-alice-same-name-new-id.............")
    assert await strategy.authenticate(key_request(key)) == REFUSED


async def test_last_used_at_is_set_on_first_use_then_at_most_once_per_interval(
    strategy: APIKeyStrategy,
    keys: APIKeyStore,
    alice: User,
    clock: Any,
    db: Any,
    key_request: KeyRequest,
) -> None:
    record, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())
    assert record.last_used_at is None

    clock.advance(seconds=5)
    first_use = clock.now
    assert isinstance(await strategy.authenticate(key_request(key)), Success)
    await strategy.flush()
    assert (await keys.list_for_user(alice.id))[0].last_used_at == first_use

    clock.advance(seconds=30)  # within the minute: no write
    assert isinstance(await strategy.authenticate(key_request(key)), Success)
    await strategy.flush()
    assert (await keys.list_for_user(alice.id))[0].last_used_at == first_use

    clock.advance(seconds=31)  # past it: written again
    assert isinstance(await strategy.authenticate(key_request(key)), Success)
    await strategy.flush()
    assert (await keys.list_for_user(alice.id))[0].last_used_at == clock.now


async def test_touch_skips_a_write_another_worker_made_recently(
    keys: APIKeyStore, alice: User, clock: Any
) -> None:
    record, _ = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())
    await keys.touch(record.id, clock.now, every=timedelta(minutes=1))
    later = clock.now + timedelta(seconds=10)
    await keys.touch(record.id, later, every=timedelta(minutes=1))
    assert (await keys.list_for_user(alice.id))[0].last_used_at == clock.now


async def test_a_failed_last_used_write_does_not_change_the_answer(
    alice: User,
    users: MongoUserStore,
    db: Any,
    key_request: KeyRequest,
    clock: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class ReadOnlyStore(APIKeyStore):
        async def touch(self, key_id: str, at: Any, *, every: timedelta) -> None:
            raise BackendUnavailable()

    keys = ReadOnlyStore.on_database(db, clock=clock)
    strategy = APIKeyStrategy(keys, users)
    _, key = await keys.create(user_id=alice.id, username="alice", label="ci", scopes=())

    assert isinstance(await strategy.authenticate(key_request(key)), Success)
    await strategy.flush()
    assert f"could not record the use of API key {key[:11]}: BackendUnavailable" in caplog.text


async def test_a_database_outage_is_a_503_not_a_fail(
    users: MongoUserStore, key_request: KeyRequest
) -> None:
    class Down:
        database: Any = None

        def find_one(self, *args: Any, **kwargs: Any) -> Any:
            raise ServerSelectionTimeoutError("no servers")

    strategy = APIKeyStrategy(APIKeyStore(Down()), users)  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailable):
        await strategy.authenticate(key_request(generate_key()))


async def test_listing_is_the_users_own_keys_oldest_first_without_secrets(
    keys: APIKeyStore, alice: User, bob: User
) -> None:
    _, first = await keys.create(user_id=alice.id, username="alice", label="one", scopes=())
    await keys.create(user_id=bob.id, username="bob", label="bob's", scopes=())
    _, second = await keys.create(user_id=alice.id, username="alice", label="two", scopes=("s",))

    listed = [record.public() for record in await keys.list_for_user(alice.id)]

    assert [item["label"] for item in listed] == ["one", "two"]
    assert listed[1]["scopes"] == ["s"]
    assert set(listed[0]) == {
        "id",
        "prefix",
        "label",
        "scopes",
        "createdAt",
        "lastUsedAt",
        "revokedAt",
    }
    assert listed[0]["createdAt"] == "2030-01-02T03:04:05.678Z"
    assert first not in repr(listed) and second not in repr(listed)
    assert await keys.count_active(alice.id) == 2


def test_from_context_uses_the_applications_database(db: Any) -> None:
    from authkit.plugin import AuthService, PasswordHasher, TokenIssuer

    users = MongoUserStore(db["users"])
    hasher, tokens = PasswordHasher(4), TokenIssuer("x" * 32)
    ctx = StrategyContext(users, hasher, tokens, AuthService(users, hasher), database=db)
    assert database_of(ctx) is db


def test_from_context_refuses_an_application_without_a_database() -> None:
    from authkit.plugin import AuthService, PasswordHasher, TokenIssuer

    class Elsewhere:
        async def find_by_username(self, username: str) -> User | None:
            return None

        async def create(self, username: str, password_hash: str) -> User:
            raise NotImplementedError

    users, hasher, tokens = Elsewhere(), PasswordHasher(4), TokenIssuer("x" * 32)
    ctx = StrategyContext(users, hasher, tokens, AuthService(users, hasher))
    with pytest.raises(TypeError, match=r"StrategyContext\.database is None"):
        APIKeyStrategy.from_context(ctx)
