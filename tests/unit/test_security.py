"""One test per attack in docs/security.md, through the whole app (Starlette's TestClient,
mongomock). Each fails when its protection is removed. The same attacks against a real
server and database: tests/e2e/ and tests/integration/."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import bcrypt
import mongomock
import pytest
from starlette.testclient import TestClient
from support.jwt import bearer, hmac_jwt, segment
from support.settings import make_settings

from authkit import create_app
from authkit.ops.logs import JSONFormatter, TextFormatter
from authkit.passwords.throttle import Limit
from authkit.settings.model import (
    ServerSettings,
    SigninLimits,
)

SECRET = "security-test-secret-0123456789abcdef"
PASSWORD = "Tr0ub4dor&3x"


@pytest.fixture
def database() -> Any:
    return mongomock.MongoClient().db


@pytest.fixture
def client(database: Any) -> Any:
    with TestClient(create_app(make_settings(SECRET), database=database)) as client:
        assert (
            client.post(
                "/auth/signup", json={"username": "victim", "password": PASSWORD}
            ).status_code
            == 201
        )
        yield client


def sign(header: dict[str, Any], claims: dict[str, Any], key: bytes = SECRET.encode()) -> str:
    """`header` and `claims` HMAC-signed as they are (hash by the header's alg, else SHA-256)."""
    return hmac_jwt(header, claims, key)


def me(client: Any, token: str) -> Any:
    return client.get("/auth/me", headers=bearer(token))


# --- password guessing ------------------------------------------------------------------


def test_password_guessing_is_stopped_with_429_and_retry_after(database: Any) -> None:
    limits = SigninLimits(per_account=Limit(5, 900), per_address=Limit(50, 900))
    with TestClient(
        create_app(make_settings(SECRET, signin_limits=limits), database=database)
    ) as client:
        client.post("/auth/signup", json={"username": "victim", "password": PASSWORD})
        guesses = [
            client.post("/auth/signin", json={"username": "victim", "password": f"guess-{n:04}"})
            for n in range(7)
        ]
    assert [r.status_code for r in guesses] == [401] * 5 + [429] * 2
    assert int(guesses[-1].headers["retry-after"]) > 0


# --- user enumeration -------------------------------------------------------------------


def test_unknown_user_and_wrong_password_look_the_same_and_cost_the_same(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        checks.append(hashed)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    unknown = client.post("/auth/signin", json={"username": "nobody-here", "password": PASSWORD})
    after_unknown = len(checks)
    wrong = client.post("/auth/signin", json={"username": "victim", "password": "not-it-at-all"})

    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())
    assert unknown.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")
    # The unknown user cost one full bcrypt check, like the wrong password did.
    assert after_unknown == 1 and len(checks) == 2
    assert checks[0].startswith(b"$2b$04$")  # the dummy is made at the configured cost


# --- injection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"username": {"$ne": None}, "password": PASSWORD},
        {"username": {"$gt": ""}, "password": {"$ne": None}},
        {"username": ["victim"], "password": PASSWORD},
        {"username": "victim", "password": {"$ne": None}},
    ],
)
def test_operator_objects_never_reach_the_database(
    client: Any, database: Any, body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    filters: list[Any] = []
    real_find_one = type(database.users).find_one

    def spy(self: Any, filter: Any = None, *args: Any, **kwargs: Any) -> Any:
        filters.append(filter)
        return real_find_one(self, filter, *args, **kwargs)

    monkeypatch.setattr(type(database.users), "find_one", spy)
    response = client.post("/auth/signin", json=body)
    assert response.status_code == 401
    assert "accessToken" not in response.text
    assert all(isinstance(v, str) for f in filters for v in f.values())


def test_form_brackets_are_literal_field_names(client: Any) -> None:
    response = client.post(
        "/auth/signin",
        content=b"username[$ne]=x&password=" + PASSWORD.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized", "statusCode": 401}


# --- tokens -----------------------------------------------------------------------------


def _claims(**extra: Any) -> dict[str, Any]:
    import time

    now = int(time.time())
    return {"username": "victim", "sub": "a" * 24, "iat": now, "exp": now + 60, **extra}


@pytest.mark.parametrize(
    ("label", "token"),
    [
        ("alg none", segment({"alg": "none", "typ": "JWT"}) + "." + segment(_claims()) + "."),
        ("HS384 with the secret", sign({"alg": "HS384", "typ": "JWT"}, _claims())),
        ("HS512 with the secret", sign({"alg": "HS512", "typ": "JWT"}, _claims())),
        ("RS256 header, HMAC body", sign({"alg": "RS256", "typ": "JWT"}, _claims())),
        ("no exp", sign({"alg": "HS256"}, {k: v for k, v in _claims().items() if k != "exp"})),
        ("expired", sign({"alg": "HS256"}, _claims(exp=1_000_000_000))),
        ("not yet valid (nbf)", sign({"alg": "HS256"}, _claims(nbf=4_000_000_000))),
        ("wrong secret", sign({"alg": "HS256"}, _claims(), key=b"x" * 40)),
        ("tampered payload", sign({"alg": "HS256"}, _claims()).replace(".", ".x", 1)),
        ("garbage", "not.a.jwt"),
        ("oversized", sign({"alg": "HS256"}, _claims(pad="p" * 9000))),
        ("sub not a string", sign({"alg": "HS256"}, _claims(sub=12345))),
    ],
)
def test_bad_tokens_get_a_bare_401(client: Any, label: str, token: str) -> None:
    response = me(client, token)
    assert response.status_code == 401, label
    assert response.json() == {"message": "Unauthorized", "statusCode": 401}
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_good_token_passes_so_the_rejections_above_mean_something(client: Any) -> None:
    assert me(client, sign({"alg": "HS256", "typ": "JWT"}, _claims())).status_code == 200


# --- bodies -----------------------------------------------------------------------------


def test_oversized_body_is_refused_before_it_is_read_in_full() -> None:
    app = create_app(
        make_settings(SECRET, server=ServerSettings(max_body_bytes=4096)),
        database=mongomock.MongoClient().db,
    )
    chunks_sent = 0
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal chunks_sent
        chunks_sent += 1
        return {"type": "http.request", "body": b"a" * 1024, "more_body": chunks_sent < 1000}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/auth/signup",
        "headers": [(b"content-type", b"application/json")],  # chunked: no length up front
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("test", 80),
        "client": ("203.0.113.1", 1234),
        "root_path": "",
    }
    asyncio.run(app(scope, receive, send))

    assert messages[0]["status"] == 413
    assert chunks_sent <= 5  # stopped at the cap, not after 1000 KiB
    assert json.loads(messages[1]["body"])["error"] == "Payload Too Large"


def test_declared_oversized_body_is_refused_up_front(client: Any) -> None:
    response = client.post(
        "/auth/signup",
        content=b"{" + b" " * 20000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["message"] == "Request body is larger than 16384 bytes"


@pytest.mark.parametrize(
    ("label", "content", "content_type", "status"),
    [
        ("malformed JSON", b'{"username": ', "application/json", 400),
        ("deep nesting", b"[" * 10000 + b"]" * 10000, "application/json", 413),
        ("deep nesting under the cap", b"[" * 5000 + b"]" * 5000, "application/json", 400),
        ("invalid UTF-8 JSON", b'{"username": "\xff\xfe"}', "application/json", 400),
        (
            "invalid UTF-8 form",
            b"username=%ff%fe&password=x",
            "application/x-www-form-urlencoded",
            400,
        ),
        (
            "lone surrogate",
            b'{"username": "ab\\ud800cd", "password": "12345678"}',
            "application/json",
            400,
        ),
        (
            "NUL bytes",  # a password may hold one; a username may not (a control character)
            b'{"username": "ab\\u0000cd", "password": "1234\\u00005678"}',
            "application/json",
            400,
        ),
        ("JSON array", b"[1, 2]", "application/json", 400),
        ("XML", b"<user/>", "application/xml", 400),
        (
            "too many form fields",
            b"&".join(b"k%d=v" % i for i in range(100)),
            "application/x-www-form-urlencoded",
            400,
        ),
    ],
)
def test_hostile_bodies_get_a_clear_4xx(
    client: Any, label: str, content: bytes, content_type: str, status: int
) -> None:
    response = client.post("/auth/signup", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, label
    body = response.json() if response.content else {}
    if status >= 400:
        assert body["statusCode"] == status and body["message"], label


def test_passwords_over_bcrypts_72_bytes_are_refused_at_signup(client: Any) -> None:
    emoji_password = "😀" * 19  # 19 characters, 76 bytes in UTF-8
    response = client.post(
        "/auth/signup", json={"username": "emoji-user", "password": emoji_password}
    )
    assert response.status_code == 400
    assert response.json()["message"] == [
        "Password is too long (72 bytes max in UTF-8, bcrypt's limit)"
    ]


# --- logs -------------------------------------------------------------------------------


def test_no_password_token_secret_or_hash_is_ever_logged(
    client: Any, database: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.post("/auth/signin", json={"username": "victim", "password": "wrong-password-1"})
    token = client.post("/auth/signin", json={"username": "victim", "password": PASSWORD}).json()[
        "accessToken"
    ]
    me(client, token)
    me(client, token + "x")
    stored_hash = database.users.find_one({"username": "victim"})["password"]

    records = [r for r in caplog.records if r.name.startswith("authkit")]
    logged = "\n".join(
        formatter.format(record)
        for record in records
        for formatter in (JSONFormatter(), TextFormatter())
    )
    # The security events are there, in both output formats...
    assert '"event": "signin_failed", "user": "victim"' in logged
    assert "signin failed event='signin_failed' user='victim'" in logged
    for secret in (PASSWORD, "wrong-password-1", token, SECRET, stored_hash):
        assert secret not in logged  # ...and nothing that must stay secret
