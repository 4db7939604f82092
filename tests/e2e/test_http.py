"""The three routes over real HTTP: `uvicorn authkit.asgi:app` as a process, on a real database.

What a client of the NestJS app sees: JSON and form bodies, the status codes and
bodies of the contract, and tokens whose header bytes and claims are the ones
@nestjs/jwt writes, so either side accepts the other's tokens.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.database import Database
from support.jwt import b64url_decode, bearer, node_style_token
from support.processes import AppProcess

pytestmark = pytest.mark.e2e

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
JSON_CT = "application/json; charset=utf-8"
PASSWORD = "Passw0rd!x"
UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}
INVALID_CREDENTIALS = {"message": "Invalid credentials", "error": "Unauthorized", "statusCode": 401}


@pytest.fixture
def http(app_server: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_server.base_url, timeout=15) as client:
        yield client


def test_json_signup_signin_me(http: httpx.Client, mongo_db: Database[dict[str, Any]]) -> None:
    signup = http.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
    assert (signup.status_code, signup.content) == (201, b"")
    assert "content-type" not in signup.headers

    signin = http.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert signin.status_code == 201
    assert signin.headers["content-type"] == JSON_CT
    assert list(signin.json()) == ["accessToken", "refreshToken"]

    me = http.get("/auth/me", headers=bearer(signin.json()["accessToken"]))
    assert me.status_code == 200
    assert me.headers["content-type"] == JSON_CT
    doc = mongo_db["users"].find_one({"username": "alice"})
    assert doc is not None
    assert me.json() == {"_id": str(doc["_id"]), "username": "alice"}


def test_form_signup_signin_me(http: httpx.Client) -> None:
    form = {"username": "élodie", "password": "mot de passe!"}
    signup = http.post("/auth/signup", data=form)
    assert signup.status_code == 201, signup.text

    signin = http.post("/auth/signin", data=form)
    assert signin.status_code == 201, signin.text

    me = http.get("/auth/me", headers=bearer(signin.json()["accessToken"]))
    assert me.status_code == 200
    assert me.json()["username"] == "élodie"
    assert re.fullmatch(r"[0-9a-f]{24}", me.json()["_id"])


def test_signup_refusals(http: httpx.Client) -> None:
    assert http.post("/auth/signup", json={"username": "alice", "password": PASSWORD}).is_success

    duplicate = http.post("/auth/signup", data={"username": "alice", "password": "other-pass1"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == JSON_CT
    assert duplicate.json() == {
        "message": "User already exists",
        "error": "Conflict",
        "statusCode": 409,
    }

    invalid = http.post("/auth/signup", json={"username": "ab", "password": "x"})
    assert invalid.status_code == 400
    assert invalid.json() == {
        "message": [
            "username must be longer than or equal to 4 characters",
            "Password is too short (8 characters min)",
        ],
        "error": "Bad Request",
        "statusCode": 400,
    }


def test_signin_refusals(http: httpx.Client) -> None:
    assert http.post("/auth/signup", json={"username": "alice", "password": PASSWORD}).is_success

    wrong = http.post("/auth/signin", json={"username": "alice", "password": "Wrong-pass1"})
    unknown = http.post("/auth/signin", data={"username": "nobody", "password": PASSWORD})
    missing = http.post("/auth/signin", json={"username": "alice"})
    for response, body in ((wrong, INVALID_CREDENTIALS), (unknown, INVALID_CREDENTIALS)):
        assert (response.status_code, response.json()) == (401, body)
    assert (missing.status_code, missing.json()) == (401, UNAUTHORIZED)


def test_me_refusals(http: httpx.Client, jwt_secret: str) -> None:
    no_header = http.get("/auth/me")
    assert (no_header.status_code, no_header.json()) == (401, UNAUTHORIZED)
    assert no_header.headers["www-authenticate"].startswith("Bearer")

    now = int(time.time())
    claims = {"username": "alice", "sub": "6650c0ffee0123456789abcd"}
    expired = node_style_token({**claims, "iat": now - 3600, "exp": now - 1800}, jwt_secret)
    wrong_secret = node_style_token({**claims, "iat": now, "exp": now + 60}, "not-the-secret")
    for token in (expired, wrong_secret, "not.a.jwt"):
        response = http.get("/auth/me", headers=bearer(token))
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED), token


def test_issued_token_has_the_node_header_bytes_and_claims(http: httpx.Client) -> None:
    node_token = json.loads((DATA_DIR / "node-compat.json").read_text("utf-8"))["tokens"][0]
    node_header, node_payload, _ = node_token["token"].split(".")
    assert http.post("/auth/signup", json={"username": "alice", "password": PASSWORD}).is_success

    token = http.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()[
        "accessToken"
    ]
    header, payload, signature = token.split(".")

    assert header == node_header  # the exact bytes: {"alg":"HS256","typ":"JWT"}
    assert b64url_decode(header) == b'{"alg":"HS256","typ":"JWT"}'
    ours = json.loads(b64url_decode(payload))
    # username, sub, iat, exp first, as the Node app writes them; then authkit's own claims,
    # which jsonwebtoken ignores (auth_time: when the user signed in, for step-up).
    assert list(ours)[:4] == list(json.loads(b64url_decode(node_payload)))
    assert list(ours)[4:] == ["jti", "token_version", "sid", "auth_time"]
    assert abs(ours["auth_time"] - time.time()) < 60 and ours["auth_time"] <= ours["iat"]
    assert ours["username"] == "alice"
    assert ours["exp"] - ours["iat"] == 60  # JWT_EXPIRES_IN's default, the seed's '60s'
    assert abs(ours["iat"] - time.time()) < 60
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", signature)
    me = http.get("/auth/me", headers=bearer(token))
    assert me.json() == {"_id": ours["sub"], "username": "alice"}


def test_a_token_laid_out_by_node_is_accepted(http: httpx.Client, jwt_secret: str) -> None:
    now = int(time.time())
    claims = {"username": "nodeuser1", "sub": "6b086abbf4163098471ce648", "iat": now}
    token = node_style_token({**claims, "exp": now + 60}, jwt_secret)

    me = http.get("/auth/me", headers=bearer(token))

    assert (me.status_code, me.json()) == (
        200,
        {"_id": "6b086abbf4163098471ce648", "username": "nodeuser1"},
    )


def test_jwt_expires_in_sets_the_token_lifetime(
    start_uvicorn: Callable[..., AppProcess], server_env: dict[str, str]
) -> None:
    server = start_uvicorn({**server_env, "JWT_EXPIRES_IN": "15m"})
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        signup = http.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
        assert signup.status_code == 201
        token = http.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    claims = json.loads(b64url_decode(token.json()["accessToken"].split(".")[1]))

    assert claims["exp"] - claims["iat"] == 15 * 60


def test_unknown_routes_and_methods_answer_like_express(http: httpx.Client) -> None:
    for method, path in (("GET", "/nope"), ("GET", "/auth/signup"), ("POST", "/auth/me")):
        response = http.request(method, path)
        assert response.status_code == 404
        assert response.json() == {
            "message": f"Cannot {method} {path}",
            "error": "Not Found",
            "statusCode": 404,
        }
