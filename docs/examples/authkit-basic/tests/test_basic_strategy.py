"""BasicStrategy called directly, with a real AuthService on mongomock: what a client sending
`Authorization: Basic ...` gets, and what the sign-in throttle sees.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

import mongomock
import pytest
from authkit.plugin import (
    AuthenticatedUser,
    AuthService,
    Fail,
    MongoUserStore,
    PasswordHasher,
    Success,
    TooManyRequests,
    User,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from authkit_basic import CHALLENGE, BasicStrategy, parse_basic

pytestmark = pytest.mark.anyio

CLIENT = ("203.0.113.9", 41000)
MISSING = Fail(challenge='Basic realm="authkit", charset="UTF-8"')
INVALID = Fail(challenge='Basic realm="authkit", charset="UTF-8"', message="Invalid credentials")


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def request_with(headers: Sequence[tuple[str, str | bytes]]) -> Request:
    raw = [
        (k.lower().encode(), v if isinstance(v, bytes) else v.encode("latin-1")) for k, v in headers
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": CLIENT,
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": raw,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive)


def authorization(value: str | bytes) -> Request:
    return request_with([("Authorization", value)])


def failures(db: Any) -> list[tuple[str, str]]:
    """The failed sign-ins the throttle has counted: (account, address)."""
    return [(doc["account"], doc["address"]) for doc in db["signin_failures"].find()]


def test_strategy_declares_its_name_scheme_and_challenge() -> None:
    assert BasicStrategy.name == "basic"
    assert BasicStrategy.openapi_scheme == {"type": "http", "scheme": "basic"}
    assert CHALLENGE == 'Basic realm="authkit", charset="UTF-8"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (basic("alice", "pw"), ("alice", "pw")),
        (basic("alice", "a:b::c"), ("alice", "a:b::c")),
        (basic("alice", ""), ("alice", "")),
        (basic("", "pw"), ("", "pw")),
        (basic("jürgen", "pässwörd€"), ("jürgen", "pässwörd€")),
        ("basic " + basic("alice", "pw")[6:], ("alice", "pw")),
        ("BASIC   " + basic("alice", "pw")[6:] + "  ", ("alice", "pw")),
    ],
    ids=["plain", "colons in password", "empty password", "empty name", "utf-8", "lower", "spaces"],
)
def test_parse_splits_at_the_first_colon(header: str, expected: tuple[str, str]) -> None:
    assert parse_basic(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic ",
        "Bearer " + base64.b64encode(b"alice:pw").decode(),
        "Basic " + base64.b64encode(b"alice-no-colon").decode(),
        "Basic " + base64.b64encode(b"alice:pw").decode().rstrip("="),
        "Basic YWxpY2U6cHc=x",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"al\xffce:pw").decode(),
        "Basic " + base64.b64encode("jürgen:pw".encode("latin-1")).decode(),
        "Basic " + base64.b64encode(b"alice:p\x00w").decode(),
        "Basic " + base64.b64encode(b"ali\x1bce:pw").decode(),
        "Basic YWxp Y2U6cHc=",
        "Basic " + "QUFB" * 1000,
        "Basicx " + base64.b64encode(b"alice:pw").decode(),
    ],
    ids=[
        "empty",
        "scheme only",
        "scheme and space",
        "other scheme",
        "no colon",
        "no padding",
        "trailing junk",
        "not base64",
        "invalid utf-8",
        "latin-1",
        "NUL",
        "escape",
        "space inside",
        "huge",
        "scheme prefix",
    ],
)
def test_parse_refuses_anything_malformed(header: str) -> None:
    assert parse_basic(header) is None


async def test_right_credentials_authenticate_the_user(
    strategy: BasicStrategy, alice: User, db: Any
) -> None:
    outcome = await strategy.authenticate(authorization(basic("alice", "Passw0rd:x")))
    assert outcome == Success(AuthenticatedUser(alice.id, "alice"))
    assert failures(db) == []


async def test_utf8_credentials_authenticate(strategy: BasicStrategy, jurgen: User) -> None:
    outcome = await strategy.authenticate(authorization(basic("jürgen", "pässwörd€1")))
    assert outcome == Success(AuthenticatedUser(jurgen.id, "jürgen"))


async def test_a_wrong_password_or_unknown_user_is_invalid_and_counted_for_the_client_address(
    strategy: BasicStrategy, alice: User, db: Any
) -> None:
    wrong = await strategy.authenticate(authorization(basic("alice", "Passw0rd:y")))
    unknown = await strategy.authenticate(authorization(basic("mallory", "Passw0rd:x")))

    assert wrong == INVALID
    assert unknown == INVALID
    assert failures(db) == [("alice", CLIENT[0]), ("mallory", CLIENT[0])]


async def test_after_the_account_limit_even_the_right_password_gets_429(
    strategy: BasicStrategy, alice: User
) -> None:
    for _ in range(3):
        assert await strategy.authenticate(authorization(basic("alice", "nope-nope"))) == INVALID

    with pytest.raises(TooManyRequests) as raised:
        await strategy.authenticate(authorization(basic("alice", "Passw0rd:x")))
    assert raised.value.status_code == 429
    assert 1 <= int(raised.value.headers["Retry-After"]) <= 900


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "Basic !!!",
        "Basic " + base64.b64encode(b"alice").decode(),
        basic("alice", ""),
        basic("", "Passw0rd:x"),
        b"Basic \xff\xfe",
    ],
    ids=["none", "bearer", "junk", "no colon", "no password", "no name", "binary"],
)
async def test_malformed_credentials_fail_without_a_sign_in_attempt(
    strategy: BasicStrategy, alice: User, db: Any, header: str | bytes | None
) -> None:
    request = request_with([] if header is None else [("Authorization", header)])
    assert await strategy.authenticate(request) == MISSING
    assert failures(db) == []


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200),
        st.binary(max_size=120).map(lambda b: "Basic " + base64.b64encode(b).decode()),
        st.binary(max_size=120).map(lambda b: "bAsIc  " + base64.b64encode(b).decode()[:-1]),
    )
)
def test_no_header_makes_it_raise(header: str) -> None:
    db: Any = mongomock.MongoClient().authkit
    users = MongoUserStore(db["users"])
    service = AuthService(users, PasswordHasher(4))
    outcome = asyncio.run(BasicStrategy(service).authenticate(authorization(header)))
    assert isinstance(outcome, Fail)
    assert outcome.challenge == CHALLENGE
