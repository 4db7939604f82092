"""The key-management routes inside a whole authkit app (create_app on mongomock), through
Starlette's TestClient: status codes, NestJS-shaped errors, and what each body shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from apikey_helpers import SECRET, build_request
from authkit import create_app, load_settings
from authkit.plugin import Success, TokenIssuer, User
from bson import ObjectId
from joserfc import jwt
from joserfc.jwk import OctKey
from starlette.testclient import TestClient

import authkit_apikey.routes as routes_module
from authkit_apikey import APIKeyStrategy, hash_key, looks_like_key

UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}


def token_for(user: User, scope: str | None = None) -> dict[str, str]:
    """An Authorization header with a JWT for `user`, carrying `scope` when given; it lives
    the app's JWT_EXPIRES_IN (60 s): authkit refuses a token that would live longer."""
    if scope is None:
        token = TokenIssuer(SECRET, 60).issue(user_id=user.id, username=user.username)
    else:
        now = int(time.time())
        claims = {"username": user.username, "sub": user.id, "scope": scope, "exp": now + 60}
        token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(SECRET))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app(db: Any) -> Any:
    settings = load_settings(
        {"JWT_SECRET": SECRET, "BCRYPT_ROUNDS": "4", "AUTHKIT_MAX_BODY_BYTES": "1024"}
    )
    return create_app(settings, database=db)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def alice_user(db: Any) -> User:
    return _user(db, "alice")


@pytest.fixture
def bob_user(db: Any) -> User:
    return _user(db, "bob")


def _user(db: Any, name: str) -> User:
    doc = {"_id": ObjectId(), "username": name, "password": "$2b$04$unused", "__v": 0}
    db["users"].insert_one(doc)
    return User.from_document(doc)


@pytest.fixture
def authenticate(app: Any) -> Callable[[str], Any]:
    """Run the app's own apikey strategy on a request carrying `key`."""
    import asyncio

    strategy: APIKeyStrategy = app.state.strategies.get("apikey")

    def run(key: str) -> Any:
        async def go() -> Any:
            outcome = await strategy.authenticate(build_request([("X-API-Key", key)]))
            await strategy.flush()
            return outcome

        return asyncio.run(go())

    return run


def test_create_returns_the_key_once_with_its_record(
    client: TestClient, alice_user: User, db: Any, authenticate: Callable[[str], Any]
) -> None:
    answer = client.post("/auth/api-keys", json={"label": "ci"}, headers=token_for(alice_user))

    assert answer.status_code == 201
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == {
        "id",
        "key",
        "prefix",
        "label",
        "scopes",
        "createdAt",
        "lastUsedAt",
        "revokedAt",
    }
    assert looks_like_key(body["key"])
    assert (body["label"], body["scopes"], body["lastUsedAt"], body["revokedAt"]) == (
        "ci",
        [],
        None,
        None,
    )
    assert body["prefix"] == body["key"][:11]
    stored = db["api_keys"].find_one({"_id": ObjectId(body["id"])})
    assert stored["key_hash"] == hash_key(body["key"])
    assert stored["user_id"] == alice_user.id

    outcome = authenticate(body["key"])
    assert isinstance(outcome, Success)
    assert (outcome.user.id, outcome.user.username) == (alice_user.id, "alice")


def test_managing_keys_needs_a_jwt_and_an_api_key_will_not_do(
    client: TestClient, alice_user: User
) -> None:
    made = client.post("/auth/api-keys", json={"label": "ci"}, headers=token_for(alice_user))
    key = {"X-API-Key": made.json()["key"]}

    for method, path in (
        ("POST", "/auth/api-keys"),
        ("GET", "/auth/api-keys"),
        ("DELETE", f"/auth/api-keys/{made.json()['id']}"),
    ):
        for headers in ({}, key):
            answer = client.request(method, path, json={"label": "x"}, headers=headers)
            assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED), (method, headers)
            assert answer.headers["www-authenticate"] == 'Bearer realm="authkit"'


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        (
            {},
            [
                "label must be shorter than or equal to 100 characters",
                "label must be longer than or equal to 1 characters",
                "label must be a string",
            ],
        ),
        ({"label": ""}, ["label must be longer than or equal to 1 characters"]),
        ({"label": "x" * 101}, ["label must be shorter than or equal to 100 characters"]),
        ({"label": "a\x1b[31mred"}, ["label must not contain control characters"]),
        ({"label": "ok", "scopes": "reports:read"}, ["scopes must be an array"]),
        ({"label": "ok", "scopes": [1]}, ["each value in scopes must be a string"]),
        (
            {"label": 7, "scopes": ["has space"]},
            [
                "label must be shorter than or equal to 100 characters",
                "label must be longer than or equal to 1 characters",
                "label must be a string",
                "each value in scopes must be 1-64 printable ASCII characters without spaces, "
                'quotes (") or backslashes',
            ],
        ),
        (
            {"label": "ok", "scopes": [f"s{i}" for i in range(21)]},
            ["scopes must contain no more than 20 elements"],
        ),
    ],
    ids=["empty", "blank", "long", "control", "string scopes", "number", "both", "many"],
)
def test_invalid_bodies_get_400_listing_every_failed_rule(
    client: TestClient, alice_user: User, body: dict[str, Any], messages: list[str]
) -> None:
    answer = client.post("/auth/api-keys", json=body, headers=token_for(alice_user))
    assert answer.status_code == 400
    assert answer.json() == {"message": messages, "error": "Bad Request", "statusCode": 400}


def test_a_100_character_label_and_64_character_scopes_are_accepted(
    client: TestClient, alice_user: User
) -> None:
    scope = "a" * 64
    answer = client.post(
        "/auth/api-keys",
        json={"label": "é" * 100, "scopes": [scope, scope]},
        headers=token_for(alice_user, scope),
    )
    assert answer.status_code == 201
    assert answer.json()["scopes"] == [scope]


def test_scopes_may_be_left_out_or_null(client: TestClient, alice_user: User) -> None:
    for body in ({"label": "a"}, {"label": "b", "scopes": None}, {"label": "c", "scopes": []}):
        answer = client.post("/auth/api-keys", json=body, headers=token_for(alice_user))
        assert (answer.status_code, answer.json()["scopes"]) == (201, []), body


def test_a_key_cannot_carry_scopes_the_token_lacks(
    client: TestClient, alice_user: User, authenticate: Callable[[str], Any]
) -> None:
    refused = client.post(
        "/auth/api-keys",
        json={"label": "ci", "scopes": ["reports:read", "admin"]},
        headers=token_for(alice_user, "reports:read"),
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "message": "Cannot grant scopes your token does not carry: admin",
        "error": "Forbidden",
        "statusCode": 403,
    }

    granted = client.post(
        "/auth/api-keys",
        json={"label": "ci", "scopes": ["reports:read"]},
        headers=token_for(alice_user, "reports:read admin"),
    )
    assert granted.status_code == 201
    assert authenticate(granted.json()["key"]).scopes == ("reports:read",)


def test_listing_shows_only_the_callers_keys_and_never_a_key_or_hash(
    client: TestClient, alice_user: User, bob_user: User, db: Any
) -> None:
    made = [
        client.post("/auth/api-keys", json={"label": label}, headers=token_for(user)).json()
        for user, label in ((alice_user, "one"), (bob_user, "bob's"), (alice_user, "two"))
    ]

    answer = client.get("/auth/api-keys", headers=token_for(alice_user))

    assert answer.status_code == 200
    assert [item["label"] for item in answer.json()] == ["one", "two"]
    assert [item["id"] for item in answer.json()] == [made[0]["id"], made[2]["id"]]
    for item in made:
        assert item["key"] not in answer.text
    for doc in db["api_keys"].find():
        assert doc["key_hash"] not in answer.text
    assert "key" not in answer.json()[0]


def test_revoking_is_for_the_owner_only_and_takes_effect_at_once(
    client: TestClient, alice_user: User, bob_user: User, authenticate: Callable[[str], Any]
) -> None:
    made = client.post("/auth/api-keys", json={"label": "ci"}, headers=token_for(alice_user)).json()
    path = f"/auth/api-keys/{made['id']}"

    by_bob = client.delete(path, headers=token_for(bob_user))
    assert by_bob.status_code == 404
    assert by_bob.json() == {
        "message": "API key not found",
        "error": "Not Found",
        "statusCode": 404,
    }
    assert isinstance(authenticate(made["key"]), Success)

    revoked = client.delete(path, headers=token_for(alice_user))
    assert (revoked.status_code, revoked.content) == (204, b"")
    assert not isinstance(authenticate(made["key"]), Success)
    listed = client.get("/auth/api-keys", headers=token_for(alice_user)).json()
    assert listed[0]["revokedAt"] is not None

    again = client.delete(path, headers=token_for(alice_user))
    assert again.status_code == 204


@pytest.mark.parametrize("key_id", [str(ObjectId()), "not-an-id", "0" * 23, "g" * 24])
def test_revoking_an_unknown_or_malformed_id_is_404(
    client: TestClient, alice_user: User, key_id: str
) -> None:
    answer = client.delete(f"/auth/api-keys/{key_id}", headers=token_for(alice_user))
    assert answer.status_code == 404
    assert answer.json()["message"] == "API key not found"


def test_too_many_active_keys_is_409_until_one_is_revoked(
    client: TestClient, alice_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_module, "MAX_ACTIVE_KEYS", 2)
    headers = token_for(alice_user)
    first = client.post("/auth/api-keys", json={"label": "1"}, headers=headers).json()
    assert client.post("/auth/api-keys", json={"label": "2"}, headers=headers).status_code == 201

    third = client.post("/auth/api-keys", json={"label": "3"}, headers=headers)
    assert third.status_code == 409
    assert third.json()["message"] == "Too many active API keys (2); revoke one first"

    client.delete(f"/auth/api-keys/{first['id']}", headers=headers)
    assert client.post("/auth/api-keys", json={"label": "3"}, headers=headers).status_code == 201


def test_a_body_over_the_cap_is_413(client: TestClient, alice_user: User) -> None:
    answer = client.post(
        "/auth/api-keys", json={"label": "x" * 2000}, headers=token_for(alice_user)
    )
    assert answer.status_code == 413


def test_openapi_describes_the_scheme_and_the_three_operations(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    assert document["components"]["securitySchemes"]["apikey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    keys_path, one_key = (
        document["paths"]["/auth/api-keys"],
        document["paths"]["/auth/api-keys/{id}"],
    )
    assert {keys_path["post"]["operationId"], keys_path["get"]["operationId"]} == {
        "createApiKey",
        "listApiKeys",
    }
    assert one_key["delete"]["operationId"] == "revokeApiKey"
    assert one_key["delete"]["parameters"][0]["name"] == "id"
    for operation in (keys_path["post"], keys_path["get"], one_key["delete"]):
        assert operation["security"] == [{"jwt": []}]
