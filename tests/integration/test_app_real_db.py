"""The whole app on a real MongoDB-protocol server: what mongomock cannot show.

The same routes on mongomock are in tests/unit/test_app.py. Here: the round trip
leaves a mongoose-shaped document in a real collection, the NestJS app's users
(Node `bcrypt` and `bcryptjs` hashes) sign in, the unique index holds against 24
simultaneous signups through a real uvicorn, and a database nobody answers for
gives a quick 503 while tokens keep working.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from bson import ObjectId
from pymongo.database import Database
from support.jwt import bearer
from support.settings import make_settings

from authkit import create_app
from authkit.settings.model import MongoSettings
from authkit.storage.embedded import free_port
from authkit.tokens.issuer import TokenIssuer

with warnings.catch_warnings():
    # Starlette warns at import when its test client runs on `httpx` instead of `httpx2`.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
PASSWORD = "correct-horse-1"
UNAVAILABLE = {
    "message": "The user database is unavailable; try again shortly",
    "error": "Service Unavailable",
    "statusCode": 503,
}


@pytest.fixture
def make_client(jwt_secret: str) -> Iterator[Callable[[str], TestClient]]:
    """`make_client(mongo_uri)`: the app from create_app(settings), its lifespan entered."""
    entered: list[TestClient] = []

    def build(mongo_uri: str) -> TestClient:
        client = TestClient(
            create_app(make_settings(jwt_secret, mongo=MongoSettings(uri=mongo_uri)))
        )
        client.__enter__()
        entered.append(client)
        return client

    yield build
    for client in reversed(entered):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[[str], TestClient], db_uri: str) -> TestClient:
    return make_client(db_uri)


def test_signup_signin_me_round_trip(
    client: TestClient, mongo_db: Database[dict[str, Any]]
) -> None:
    signup = client.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
    assert (signup.status_code, signup.content) == (201, b"")

    doc = mongo_db["users"].find_one({"username": "alice"})
    assert doc is not None
    assert sorted(doc) == [
        "__v",
        "_id",
        "password",
        "password_nfc",
        "username",
        "username_canonical",
        "username_key",
    ]
    assert doc["__v"] == 0 and doc["password"].startswith("$2b$04$")
    assert mongo_db["users"].index_information()["username_1"].get("unique") is True

    signin = client.post("/auth/signin", data={"username": "alice", "password": PASSWORD})
    assert signin.status_code == 201
    assert list(signin.json()) == ["accessToken", "refreshToken"]

    me = client.get("/auth/me", headers=bearer(signin.json()["accessToken"]))
    assert me.status_code == 200
    assert me.json() == {"_id": str(doc["_id"]), "username": "alice"}

    again = client.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json() == {
        "message": "User already exists",
        "error": "Conflict",
        "statusCode": 409,
    }


def test_users_created_by_the_nestjs_app_sign_in(
    client: TestClient, mongo_db: Database[dict[str, Any]]
) -> None:
    node = json.loads((DATA_DIR / "node-compat.json").read_text("utf-8"))["users"]
    bcryptjs = json.loads((DATA_DIR / "bcryptjs-hashes.json").read_text("utf-8"))["users"]
    docs = [
        {"_id": ObjectId(u["_id"]), "username": u["username"], "password": u["hash"], "__v": 0}
        for u in node
    ] + [
        {"_id": ObjectId(), "username": u["username"], "password": u["hash"], "__v": 0}
        for u in bcryptjs
    ]
    mongo_db["users"].insert_many(docs)

    for doc, user in zip(docs, node + bcryptjs, strict=True):
        signin = client.post(
            "/auth/signin", json={"username": user["username"], "password": user["password"]}
        )
        assert signin.status_code == 201, (user["username"], signin.text)
        token = signin.json()["accessToken"]
        me = client.get("/auth/me", headers=bearer(token))
        assert me.json() == {"_id": str(doc["_id"]), "username": user["username"]}

    wrong = client.post("/auth/signin", json={"username": "nodeuser1", "password": "password2"})
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Invalid credentials"


def test_simultaneous_signups_of_one_username_create_exactly_one_user(
    start_uvicorn: Callable[..., Any],
    server_env: dict[str, str],
    mongo_db: Database[dict[str, Any]],
) -> None:
    # The race is the unique index's, not the password queue's: room for every racer.
    server = start_uvicorn({**server_env, "AUTHKIT_PASSWORD_QUEUE": "64"})
    attempts = 24
    barrier = threading.Barrier(attempts)

    def sign_up(i: int) -> int:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            barrier.wait(timeout=30)
            body = {"username": "racer", "password": f"password-{i:02d}"}
            return http.post("/auth/signup", json=body).status_code

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        statuses = list(pool.map(sign_up, range(attempts)))

    assert sorted(statuses) == [201] + [409] * (attempts - 1), statuses
    assert mongo_db["users"].count_documents({"username": "racer"}) == 1
    assert mongo_db["users"].count_documents({}) == 1


@pytest.mark.processes
def test_unreachable_database_gives_a_quick_503_and_tokens_keep_working(
    make_client: Callable[[str], TestClient], jwt_secret: str
) -> None:
    # A free port: nothing listens there, so every connection is refused.
    client = make_client(f"mongodb://127.0.0.1:{free_port()}/authkit")
    credentials = {"username": "alice", "password": PASSWORD}

    def timed_post(path: str) -> tuple[str, httpx.Response, float]:
        started = time.monotonic()
        response = client.post(path, json=credentials)
        return path, response, time.monotonic() - started

    # Both at once: each waits out the driver's timeout, and the suite need not wait twice.
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(timed_post, ["/auth/signup", "/auth/signin"]))

    for path, response, elapsed in answers:
        assert response.status_code == 503, (path, response.text)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.json() == UNAVAILABLE
        assert response.headers.get("retry-after", "").isdigit()
        assert elapsed < 10, f"{path} took {elapsed:.1f} s to say the database is down"

    token = TokenIssuer(jwt_secret).issue(user_id="6650c0ffee0123456789abcd", username="alice")
    me = client.get("/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json() == {"_id": "6650c0ffee0123456789abcd", "username": "alice"}
