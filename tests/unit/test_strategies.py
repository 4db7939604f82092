"""strategies.local.LocalStrategy and strategies.jwt.JWTStrategy, called directly with
Starlette requests built from an ASGI scope, on a mongomock-backed MongoUserStore.

What a caller sees is the outcome: Success with the user, or Fail whose `message`
is "Invalid credentials" (unknown user, wrong password) or None (missing or malformed
credentials: the bare 401), and whose `challenge` goes into WWW-Authenticate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import mongomock
import pytest
from authkit.strategies.jwt import JWTStrategy, bearer_token
from authkit.strategies.local import LocalStrategy
from bson import ObjectId
from pymongo.errors import ServerSelectionTimeoutError
from starlette.requests import Request
from support.clock import Clock

from authkit.core.errors import BackendUnavailable, PayloadTooLarge
from authkit.core.strategy import AuthenticatedUser, Fail, Success
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.service import AuthService
from authkit.tokens.issuer import TokenIssuer

pytestmark = pytest.mark.anyio

USERNAME = "alice"
PASSWORD = "Passw0rd!x"
USER_ID = "6650f0c2a1b2c3d4e5f60718"
FORM_CHALLENGE = 'Form realm="authkit"'
BEARER_CHALLENGE = 'Bearer realm="authkit"'
INVALID_TOKEN_CHALLENGE = (
    'Bearer realm="authkit", error="invalid_token", error_description="The access token is invalid"'
)
EXPIRED_TOKEN_CHALLENGE = (
    'Bearer realm="authkit", error="invalid_token", error_description="The access token expired"'
)

RequestFactory = Callable[..., Request]


@pytest.fixture
async def alice_id(service: AuthService) -> str:
    user = await service.sign_up(SignupCredentials(USERNAME, PASSWORD))
    return user.id


@pytest.fixture
def local(service: AuthService) -> LocalStrategy:
    return LocalStrategy(service, max_body_bytes=1024)


def json_request(make_request: RequestFactory, body: Any) -> Request:
    return make_request(
        "POST",
        "/auth/signin",
        headers={"content-type": "application/json"},
        body=json.dumps(body).encode(),
    )


def form_request(make_request: RequestFactory, pairs: list[tuple[str, str]]) -> Request:
    return make_request(
        "POST",
        "/auth/signin",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode(pairs).encode(),
    )


def assert_invalid_credentials(outcome: object) -> None:
    assert outcome == Fail(challenge=FORM_CHALLENGE, message="Invalid credentials")


def assert_bare_fail(outcome: object) -> None:
    assert outcome == Fail(challenge=FORM_CHALLENGE, message=None)


# ---------------------------------------------------------------- LocalStrategy


async def test_local_good_credentials_json(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    outcome = await local.authenticate(
        json_request(make_request, {"username": USERNAME, "password": PASSWORD})
    )
    assert isinstance(outcome, Success)
    assert outcome.user == AuthenticatedUser(alice_id, USERNAME)
    assert outcome.user.is_authenticated
    assert outcome.user.display_name == USERNAME
    assert outcome.user.identity == alice_id


async def test_local_good_credentials_form(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    outcome = await local.authenticate(
        form_request(make_request, [("username", USERNAME), ("password", PASSWORD)])
    )
    assert isinstance(outcome, Success)
    assert outcome.user == AuthenticatedUser(alice_id, USERNAME)


async def test_local_json_content_type_with_charset(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    request = make_request(
        "POST",
        "/auth/signin",
        headers={"content-type": "Application/JSON; charset=utf-8"},
        body=json.dumps({"username": USERNAME, "password": PASSWORD}).encode(),
    )
    assert isinstance(await local.authenticate(request), Success)


async def test_local_wrong_password(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    assert_invalid_credentials(
        await local.authenticate(
            json_request(make_request, {"username": USERNAME, "password": "Wrong-pass1"})
        )
    )


async def test_local_username_is_found_by_its_canonical_form(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    # ALICE, fullwidth ALICE and `alice ` are alice (RFC 8266 case and width mapping).
    for spelling in ("ALICE", "\uff21\uff2c\uff29\uff23\uff25", " alice "):
        outcome = await local.authenticate(
            json_request(make_request, {"username": spelling, "password": PASSWORD})
        )
        assert isinstance(outcome, Success) and outcome.user.id == alice_id, spelling
    assert_invalid_credentials(
        await local.authenticate(
            json_request(make_request, {"username": "ALICE", "password": PASSWORD + "x"})
        )
    )


async def test_local_unknown_user(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    assert_invalid_credentials(
        await local.authenticate(
            json_request(make_request, {"username": "nobody", "password": PASSWORD})
        )
    )


@pytest.mark.parametrize(
    "body",
    [
        {"username": USERNAME},
        {"password": PASSWORD},
        {},
        {"username": "", "password": PASSWORD},
        {"username": USERNAME, "password": ""},
        {"username": {"$ne": None}, "password": PASSWORD},
        {"username": {"$gt": ""}, "password": PASSWORD},
        {"username": [USERNAME], "password": PASSWORD},
        {"username": None, "password": PASSWORD},
        {"username": True, "password": PASSWORD},
        {"username": USERNAME, "password": {"$ne": None}},
        {"username": USERNAME, "password": 12345678},
        {"username": USERNAME, "password": [PASSWORD]},
        {"username": USERNAME, "password": None},
        [USERNAME, PASSWORD],
    ],
)
async def test_local_missing_or_malformed_fields_fail_bare(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str, body: Any
) -> None:
    assert_bare_fail(await local.authenticate(json_request(make_request, body)))


async def test_local_numeric_username_is_an_unknown_user(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    assert_invalid_credentials(
        await local.authenticate(
            json_request(make_request, {"username": 12345, "password": PASSWORD})
        )
    )


async def test_local_numeric_username_matches_its_string_like_mongoose_casts_it(
    service: AuthService, local: LocalStrategy, make_request: RequestFactory
) -> None:
    user = await service.sign_up(SignupCredentials("12345", PASSWORD))
    outcome = await local.authenticate(
        json_request(make_request, {"username": 12345, "password": PASSWORD})
    )
    assert isinstance(outcome, Success)
    assert outcome.user == AuthenticatedUser(user.id, "12345")


async def test_local_form_bracket_key_is_not_an_operator(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    outcome = await local.authenticate(
        form_request(make_request, [("username[$ne]", "x"), ("password", PASSWORD)])
    )
    assert_bare_fail(outcome)


async def test_local_form_key_given_twice_fails_bare(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    outcome = await local.authenticate(
        form_request(
            make_request,
            [("username", "nobody"), ("username", USERNAME), ("password", PASSWORD)],
        )
    )
    assert_bare_fail(outcome)


async def test_local_text_plain_body_is_not_read(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    request = make_request(
        "POST",
        "/auth/signin",
        headers={"content-type": "text/plain"},
        body=json.dumps({"username": USERNAME, "password": PASSWORD}).encode(),
    )
    assert_bare_fail(await local.authenticate(request))


async def test_local_no_body(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    assert_bare_fail(await local.authenticate(make_request("POST", "/auth/signin")))


async def test_local_lone_surrogate_fails_bare(
    local: LocalStrategy, make_request: RequestFactory, alice_id: str
) -> None:
    body = b'{"username": "alice", "password": "Passw0rd\\ud800"}'
    request = make_request(
        "POST", "/auth/signin", headers={"content-type": "application/json"}, body=body
    )
    assert_bare_fail(await local.authenticate(request))


async def test_local_body_over_the_cap_is_payload_too_large(
    local: LocalStrategy, make_request: RequestFactory
) -> None:
    request = json_request(make_request, {"username": USERNAME, "password": "x" * 2000})
    with pytest.raises(PayloadTooLarge):
        await local.authenticate(request)


async def test_local_database_outage_raises_backend_unavailable(
    local: LocalStrategy, make_request: RequestFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise ServerSelectionTimeoutError("no servers")

    monkeypatch.setattr(mongomock.collection.Collection, "find_one", down)
    with pytest.raises(BackendUnavailable):
        await local.authenticate(
            json_request(make_request, {"username": USERNAME, "password": PASSWORD})
        )


async def test_local_user_written_by_the_node_app_signs_in(
    db: Any,
    local: LocalStrategy,
    make_request: RequestFactory,
    node_compat: dict[str, Any],
) -> None:
    user = node_compat["users"][0]
    db["users"].insert_one(
        {
            "_id": ObjectId(user["_id"]),
            "username": user["username"],
            "password": user["hash"],
            "__v": 0,
        }
    )
    outcome = await local.authenticate(
        json_request(make_request, {"username": user["username"], "password": user["password"]})
    )
    assert isinstance(outcome, Success)
    assert outcome.user == AuthenticatedUser(user["_id"], user["username"])


# ---------------------------------------------------------------- JWTStrategy


@pytest.fixture
def jwt_strategy(issuer: TokenIssuer) -> JWTStrategy:
    return JWTStrategy(issuer)


@pytest.fixture
def token(issuer: TokenIssuer) -> str:
    return issuer.issue(user_id=USER_ID, username=USERNAME)


def me_request(make_request: RequestFactory, authorization: str | None, query: str = "") -> Request:
    headers = {} if authorization is None else {"authorization": authorization}
    return make_request("GET", f"/auth/me?{query}" if query else "/auth/me", headers=headers)


@pytest.mark.parametrize(
    "template", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer  {}", "Bearer\t{}"]
)
async def test_jwt_bearer_forms_accepted(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, token: str, template: str
) -> None:
    outcome = await jwt_strategy.authenticate(me_request(make_request, template.format(token)))
    assert isinstance(outcome, Success)
    assert outcome.user == AuthenticatedUser(USER_ID, USERNAME)
    assert isinstance(outcome.user, AuthenticatedUser)
    assert outcome.user.claims["username"] == USERNAME


async def test_jwt_reads_no_database(
    jwt_strategy: JWTStrategy,
    make_request: RequestFactory,
    token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise ServerSelectionTimeoutError("no servers")

    monkeypatch.setattr(mongomock.collection.Collection, "find_one", down)
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Bearer {token}"))
    assert isinstance(outcome, Success)


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz"])
async def test_jwt_no_bearer_token(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, authorization: str | None
) -> None:
    outcome = await jwt_strategy.authenticate(me_request(make_request, authorization))
    assert outcome == Fail(challenge=BEARER_CHALLENGE, message=None)


async def test_jwt_basic_scheme_with_a_real_token_is_not_a_bearer(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, token: str
) -> None:
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Basic {token}"))
    assert outcome == Fail(challenge=BEARER_CHALLENGE, message=None)


async def test_jwt_token_in_query_is_ignored(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, token: str
) -> None:
    request = me_request(make_request, None, query=f"access_token={token}")
    outcome = await jwt_strategy.authenticate(request)
    assert outcome == Fail(challenge=BEARER_CHALLENGE, message=None)


@pytest.mark.parametrize("value", ["not.a.jwt", "garbage"])
async def test_jwt_bad_token(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, value: str
) -> None:
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Bearer {value}"))
    assert outcome == Fail(challenge=INVALID_TOKEN_CHALLENGE, message=None)


async def test_jwt_expired_token(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, token: str, clock: Clock
) -> None:
    clock.now += 60
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Bearer {token}"))
    assert outcome == Fail(challenge=EXPIRED_TOKEN_CHALLENGE, message=None)


async def test_jwt_expired_token_seen_before_says_it_expired(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, token: str, clock: Clock
) -> None:
    # The first call caches the verified claims; the second finds the token expired on the
    # cached path, which must say the same.
    assert isinstance(
        await jwt_strategy.authenticate(me_request(make_request, f"Bearer {token}")), Success
    )
    clock.now += 60
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Bearer {token}"))
    assert outcome == Fail(challenge=EXPIRED_TOKEN_CHALLENGE, message=None)


async def test_jwt_forged_token_that_also_expired_does_not_say_expired(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, clock: Clock
) -> None:
    # The signature is checked before `exp`: a forger learns nothing from the description.
    other = TokenIssuer("another-secret-0123456789abcdef0123", 60, clock=lambda: clock.now - 120)
    forged = other.issue(user_id=USER_ID, username=USERNAME)
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Bearer {forged}"))
    assert outcome == Fail(challenge=INVALID_TOKEN_CHALLENGE, message=None)


async def test_jwt_token_from_another_secret(
    jwt_strategy: JWTStrategy, make_request: RequestFactory, clock: Clock
) -> None:
    other = TokenIssuer("another-secret-0123456789abcdef0123", 60, clock=clock)
    forged = other.issue(user_id=USER_ID, username=USERNAME)
    outcome = await jwt_strategy.authenticate(me_request(make_request, f"Bearer {forged}"))
    assert outcome == Fail(challenge=INVALID_TOKEN_CHALLENGE, message=None)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Bearer", None),
        ("Bearer a b", None),
        ("Token abc", None),
        ("", None),
    ],
)
def test_bearer_token_extraction(header: str, expected: str | None) -> None:
    assert bearer_token(header) == expected
