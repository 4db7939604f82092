"""The whole application (app.create_app) through Starlette's TestClient on mongomock.

Every row of tests/contract/reference/contract.json (the NestJS app's recorded answers)
is replayed with the request contract_probe.py sends, and the answer is compared with
the recorded one: status, content type and body, after the probe's normalisation
(<prefix>, <id>, <jwt>). Where DEVIATIONS.md allows or demands another answer, the
expected answer is written out below with the reason. Then what the contract does not
cover: body caps, hostile bodies, database outages, mongoose-written documents.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import mongomock
import pytest
from bson import ObjectId
from pymongo.errors import ServerSelectionTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from support.jwt import b64url_decode, make_jwt
from support.settings import make_settings

from authkit import create_app
from authkit.settings.model import ServerSettings, Settings

APP_SECRET = "app-test-secret-0123456789abcdef0123456789"
PREFIX = "qk3x9z"  # the probe's random per-run prefix: "q" + 5 characters
U_JSON = PREFIX + "json"
U_FORM = PREFIX + "form"
PASSWORD = "Passw0rd!x"
JSON_UTF8 = "application/json; charset=utf-8"
BARE_401 = {"message": "Unauthorized", "statusCode": 401}
UNAVAILABLE_503 = {
    "message": "The user database is unavailable; try again shortly",
    "error": "Service Unavailable",
    "statusCode": 503,
}

Client = Any  # starlette.testclient.TestClient, imported by conftest
HTTPResponse = Any  # what the TestClient answers (an httpx or httpx2 Response)


@pytest.fixture
def app_client(make_client: Callable[..., Client]) -> Client:
    return make_client(make_settings(APP_SECRET))


# ---------------------------------------------------------------- the probe's helpers


def is_jwt(text: str) -> bool:
    parts = text.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return False
    try:
        header = json.loads(b64url_decode(parts[0]))
        json.loads(b64url_decode(parts[1]))
    except ValueError:
        return False
    return isinstance(header, dict) and "alg" in header


def normalise(value: Any) -> Any:
    """contract_probe.py's normalisation, so answers compare with the recorded ones."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        if value.startswith("eyJ") and value.count(".") == 2:
            return "<jwt>" if is_jwt(value) else f"<bad-jwt:{value[:40]}>"
        if re.fullmatch(r"[0-9a-fA-F]{24}", value):
            return "<id>"
        return value.replace(PREFIX, "<prefix>")
    return value


def body_of(response: HTTPResponse) -> Any:
    content_type = response.headers.get("content-type", "")
    if "json" in content_type and response.content:
        return normalise(response.json())
    return response.text


# ---------------------------------------------------------------- the probe's requests


def post_json(client: Client, path: str, obj: Any) -> HTTPResponse:
    return client.post(
        path,
        content=json.dumps(obj, ensure_ascii=False).encode("utf-8"),
        headers={"content-type": "application/json"},
    )


def post_form(client: Client, path: str, pairs: list[tuple[str, str]]) -> HTTPResponse:
    return client.post(
        path,
        content=urlencode(pairs).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def post_raw(client: Client, path: str, body: str, content_type: str | None) -> HTTPResponse:
    headers = {"content-type": content_type} if content_type else {}
    return client.post(path, content=body.encode("utf-8"), headers=headers)


def me(client: Client, authorization: str | None, path: str = "/auth/me") -> HTTPResponse:
    headers = {} if authorization is None else {"authorization": authorization}
    return client.get(path, headers=headers)


def seed(client: Client) -> str:
    """The probe's first requests: two users signed up, one signed in. Returns its token."""
    assert (
        post_json(client, "/auth/signup", {"username": U_JSON, "password": PASSWORD}).status_code
        == 201
    )
    assert (
        post_form(
            client, "/auth/signup", [("username", U_FORM), ("password", PASSWORD)]
        ).status_code
        == 201
    )
    response = post_json(client, "/auth/signin", {"username": U_JSON, "password": PASSWORD})
    assert response.status_code == 201
    token: str = response.json()["accessToken"]
    return token


def claims_for(client: Client, token: str) -> dict[str, Any]:
    sub = json.loads(b64url_decode(token.split(".")[1]))["sub"]
    return {"username": U_JSON, "sub": sub}


Case = Callable[[Client], HTTPResponse]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


def signup_json(name: str, obj: Any, *, seeded: bool = False) -> None:
    def run(client: Client) -> HTTPResponse:
        if seeded:
            seed(client)
        return post_json(client, "/auth/signup", obj)

    CASES[name] = run


signup_json("signup_ok_json", {"username": U_JSON, "password": PASSWORD})
signup_json("signup_duplicate", {"username": U_JSON, "password": PASSWORD}, seeded=True)
signup_json(
    "signup_duplicate_other_case", {"username": U_JSON.upper(), "password": PASSWORD}, seeded=True
)
signup_json("signup_username_too_short_3", {"username": "abc", "password": PASSWORD})
signup_json("signup_username_too_long_21", {"username": PREFIX + "x" * 15, "password": PASSWORD})
signup_json("signup_username_missing", {"password": PASSWORD})
signup_json("signup_username_number", {"username": 12345, "password": PASSWORD})
signup_json("signup_username_array", {"username": [PREFIX + "arr"], "password": PASSWORD})
signup_json("signup_username_object", {"username": {"$ne": None}, "password": PASSWORD})
signup_json("signup_username_null", {"username": None, "password": PASSWORD})
signup_json("signup_password_too_short_7", {"username": PREFIX + "pw7", "password": "Abcdef1"})
signup_json("signup_password_too_long_21", {"username": PREFIX + "pw21", "password": "A" * 21})
signup_json("signup_password_missing", {"username": PREFIX + "nopw"})
signup_json("signup_password_number", {"username": PREFIX + "pwnum", "password": 12345678})
signup_json("signup_both_invalid", {"username": "ab", "password": "x"})
signup_json(
    "signup_extra_fields",
    {"username": PREFIX + "extra", "password": PASSWORD, "role": "admin", "isAdmin": True},
)
signup_json("signup_empty_object", {})
signup_json("signup_unicode_username", {"username": PREFIX + "ñü漢字", "password": PASSWORD})
signup_json("signup_emoji_20_codepoints", {"username": PREFIX + "😀" * 14, "password": PASSWORD})
signup_json("signup_boundary_min_4_8", {"username": "K7Q2", "password": "Abcdefg1"})
signup_json("signup_boundary_max_20_20", {"username": PREFIX + "m" * 14, "password": "B" * 20})
signup_json(
    "signup_whitespace_not_trimmed", {"username": "  " + PREFIX + "  ", "password": PASSWORD}
)


@case("signup_ok_form")
def _(client: Client) -> HTTPResponse:
    return post_form(client, "/auth/signup", [("username", U_FORM), ("password", PASSWORD)])


@case("signup_empty_body_json_ct")
def _(client: Client) -> HTTPResponse:
    return post_raw(client, "/auth/signup", "", "application/json")


@case("signup_no_body_no_ct")
def _(client: Client) -> HTTPResponse:
    return client.post("/auth/signup")


@case("signup_json_array_body")
def _(client: Client) -> HTTPResponse:
    return post_raw(client, "/auth/signup", "[]", "application/json")


@case("signup_malformed_json")
def _(client: Client) -> HTTPResponse:
    return post_raw(client, "/auth/signup", '{"username": "abcd", "password": ', "application/json")


@case("signup_text_plain")
def _(client: Client) -> HTTPResponse:
    body = json.dumps({"username": PREFIX + "text", "password": PASSWORD})
    return post_raw(client, "/auth/signup", body, "text/plain")


def signin_json(name: str, obj: Any) -> None:
    def run(client: Client) -> HTTPResponse:
        seed(client)
        return post_json(client, "/auth/signin", obj)

    CASES[name] = run


signin_json("signin_ok_json", {"username": U_JSON, "password": PASSWORD})
signin_json("signin_wrong_password", {"username": U_JSON, "password": "Wrong-pass1"})
signin_json("signin_unknown_user", {"username": PREFIX + "nobody", "password": PASSWORD})
signin_json("signin_missing_password", {"username": U_JSON})
signin_json("signin_missing_both", {})
signin_json("signin_username_obj_ne_null", {"username": {"$ne": None}, "password": PASSWORD})
signin_json("signin_password_obj_ne_null", {"username": U_JSON, "password": {"$ne": None}})
signin_json("signin_username_number", {"username": 12345, "password": PASSWORD})
signin_json("signin_password_number", {"username": U_JSON, "password": 12345678})


@case("signin_ok_form")
def _(client: Client) -> HTTPResponse:
    seed(client)
    return post_form(client, "/auth/signin", [("username", U_FORM), ("password", PASSWORD)])


@case("signin_form_bracket_injection")
def _(client: Client) -> HTTPResponse:
    seed(client)
    return post_form(client, "/auth/signin", [("username[$ne]", "x"), ("password", PASSWORD)])


@case("signin_malformed_json")
def _(client: Client) -> HTTPResponse:
    return post_raw(client, "/auth/signin", '{"username": ', "application/json")


@case("signin_text_plain")
def _(client: Client) -> HTTPResponse:
    seed(client)
    body = json.dumps({"username": U_JSON, "password": PASSWORD})
    return post_raw(client, "/auth/signin", body, "text/plain")


def me_with_token(name: str, template: str, path: str = "/auth/me", method: str = "GET") -> None:
    def run(client: Client) -> HTTPResponse:
        token = seed(client)
        return client.request(method, path, headers={"authorization": template.format(token)})

    CASES[name] = run


me_with_token("me_valid_token", "Bearer {}")
me_with_token("me_lowercase_bearer", "bearer {}")
me_with_token("me_double_space", "Bearer  {}")
me_with_token("me_trailing_slash", "Bearer {}", path="/auth/me/")
me_with_token("me_uppercase_path", "Bearer {}", path="/AUTH/ME")
me_with_token("me_post_method", "Bearer {}", method="POST")


@case("me_token_in_query")
def _(client: Client) -> HTTPResponse:
    token = seed(client)
    return client.get(f"/auth/me?access_token={token}")


CASES["me_no_header"] = lambda client: me(client, None)
CASES["me_bearer_only"] = lambda client: me(client, "Bearer")
CASES["me_basic_scheme"] = lambda client: me(client, "Basic dXNlcjpwYXNz")
CASES["me_garbage_token"] = lambda client: me(client, "Bearer not.a.jwt")


def me_with_crafted_token(name: str, build: Callable[[dict[str, Any], int], str]) -> None:
    def run(client: Client) -> HTTPResponse:
        claims = claims_for(client, seed(client))
        return me(client, "Bearer " + build(claims, int(time.time())))

    CASES[name] = run


me_with_crafted_token(
    "me_other_secret",
    lambda c, now: make_jwt({**c, "iat": now, "exp": now + 60}, "definitely-not-the-secret"),
)
me_with_crafted_token(
    "me_alg_none", lambda c, now: make_jwt({**c, "iat": now, "exp": now + 60}, "", alg="none")
)
me_with_crafted_token(
    "me_expired_token",
    lambda c, now: make_jwt({**c, "iat": now - 3600, "exp": now - 1800}, APP_SECRET),
)
me_with_crafted_token(
    "me_forged_payload",
    lambda c, now: make_jwt(
        {"username": PREFIX + "ghost", "sub": "f" * 24, "iat": now, "exp": now + 60}, APP_SECRET
    ),
)
me_with_crafted_token("me_no_exp_claim", lambda c, now: make_jwt({**c, "iat": now}, APP_SECRET))
me_with_crafted_token(
    "me_hs512_same_secret",
    lambda c, now: make_jwt({**c, "iat": now, "exp": now + 60}, APP_SECRET, alg="HS512"),
)

CASES["root_get"] = lambda client: client.get("/")
CASES["unknown_route"] = lambda client: client.get("/nope")
CASES["wrong_method_get_signup"] = lambda client: client.get("/auth/signup")
CASES["wrong_method_get_signin"] = lambda client: client.get("/auth/signin")


# ---------------------------------------------------------------- what DEVIATIONS.md changes

# "Must differ": the reference is unsafe or broken there.
MUST_DIFFER: dict[str, tuple[int, str | None, Any]] = {
    "signin_password_number": (401, JSON_UTF8, BARE_401),
    "me_no_exp_claim": (401, JSON_UTF8, BARE_401),
    "me_hs512_same_secret": (401, JSON_UTF8, BARE_401),
    # Issue #16: ALICE after alice is the same name (canonical forms), not a second account.
    "signup_duplicate_other_case": (
        409,
        JSON_UTF8,
        {"message": "User already exists", "error": "Conflict", "statusCode": 409},
    ),
    # Issue #16: the probe's password, Abcdefg1, is on the list of breached passwords.
    "signup_boundary_min_4_8": (
        400,
        JSON_UTF8,
        {
            "message": ["Password is too common: it is on a list of breached passwords"],
            "error": "Bad Request",
            "statusCode": 400,
        },
    ),
}
# "May differ": what authkit chose, among the answers allowed.
MAY_DIFFER: dict[str, tuple[int, str | None, Any]] = {
    # Express matches paths case-insensitively; Starlette does not: 404, in Express's words.
    "me_uppercase_path": (
        404,
        JSON_UTF8,
        {"message": "Cannot GET /AUTH/ME", "error": "Not Found", "statusCode": 404},
    ),
}
# Own parser message, same shape: checked in test_malformed_json_keeps_the_error_shape.
SHAPE_ONLY = {"signup_malformed_json", "signin_malformed_json"}
# "May differ": the one extra field, refreshToken, beside the reference's accessToken
# (AUTHKIT_REFRESH_TOKENS=off gives the exact body: test_refresh_off_gives_the_reference_body).
REFRESH_ADDED = {"signin_ok_json", "signin_ok_form"}


def test_every_contract_row_is_replayed(contract: dict[str, dict[str, Any]]) -> None:
    assert set(CASES) == set(contract)


@pytest.mark.parametrize("name", sorted(CASES))
def test_contract_row(name: str, app_client: Client, contract: dict[str, dict[str, Any]]) -> None:
    recorded = contract[name]
    expected = MUST_DIFFER.get(name) or MAY_DIFFER.get(name)
    if expected is None:
        expected = (recorded["status"], recorded["resp_content_type"], recorded["body"])
    response = CASES[name](app_client)
    status, content_type, body = expected
    assert response.status_code == status
    assert response.headers.get("content-type") == content_type
    if name in SHAPE_ONLY:
        return
    got = body_of(response)
    if name in REFRESH_ADDED:
        assert list(got) == ["accessToken", "refreshToken"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", got.pop("refreshToken"))
    assert got == body
    if isinstance(body, dict):
        assert list(got) == list(body)  # key order, as the bytes on the wire


@pytest.mark.parametrize("name", sorted(SHAPE_ONLY))
def test_malformed_json_keeps_the_error_shape(name: str, app_client: Client) -> None:
    body = CASES[name](app_client).json()
    assert list(body) == ["message", "error", "statusCode"]
    assert body["error"] == "Bad Request"
    assert body["statusCode"] == 400
    assert body["message"].startswith("Request body is not valid JSON")


def test_trailing_slash_redirects_to_the_canonical_path(app_client: Client) -> None:
    token = seed(app_client)
    response = app_client.get(
        "/auth/me/", headers={"authorization": f"Bearer {token}"}, follow_redirects=False
    )
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"].endswith("/auth/me")


# ---------------------------------------------------------------- beyond the contract


def test_signup_stores_a_mongoose_shaped_document(app_client: Client, db: Any) -> None:
    assert (
        post_json(
            app_client, "/auth/signup", {"username": "alice", "password": PASSWORD}
        ).status_code
        == 201
    )
    documents = list(db["users"].find())
    assert len(documents) == 1
    doc = documents[0]
    # mongoose's four fields, then authkit's own (mongoose ignores those).
    assert list(doc) == [
        "_id",
        "username",
        "password",
        "__v",
        "username_canonical",
        "username_key",
        "password_nfc",
    ]
    assert isinstance(doc["_id"], ObjectId)
    assert doc["username"] == "alice"
    assert doc["password"].startswith("$2b$04$")
    assert doc["__v"] == 0
    # The look-alike key reads `i` as the `l` its capital looks like (authkit.users.names).
    assert (doc["username_canonical"], doc["username_key"], doc["password_nfc"]) == (
        "alice",
        "allce",
        True,
    )
    assert db["users"].index_information()["username_1"]["unique"] is True


def test_signin_token_names_the_stored_user(app_client: Client, db: Any) -> None:
    post_json(app_client, "/auth/signup", {"username": "alice", "password": PASSWORD})
    token = post_json(
        app_client, "/auth/signin", {"username": "alice", "password": PASSWORD}
    ).json()["accessToken"]
    payload = json.loads(b64url_decode(token.split(".")[1]))
    stored = db["users"].find_one({"username": "alice"})
    assert payload["sub"] == str(stored["_id"])
    assert payload["username"] == "alice"
    assert payload["exp"] - payload["iat"] == 60
    response = me(app_client, f"Bearer {token}")
    assert response.json() == {"_id": str(stored["_id"]), "username": "alice"}


def test_user_written_by_mongoose_signs_in(
    app_client: Client, db: Any, node_compat: dict[str, Any]
) -> None:
    user = next(u for u in node_compat["users"] if u["username"] == "élodie")
    db["users"].insert_one(
        {
            "_id": ObjectId(user["_id"]),
            "username": user["username"],
            "password": user["hash"],
            "__v": 0,
        }
    )
    response = post_json(
        app_client, "/auth/signin", {"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 201
    token = response.json()["accessToken"]
    assert me(app_client, f"Bearer {token}").json() == {"_id": user["_id"], "username": "élodie"}


def test_token_signed_by_another_implementation_with_the_secret_is_accepted(
    app_client: Client,
) -> None:
    now = int(time.time())
    token = make_jwt(
        {"username": "nodeuser1", "sub": "6b086abbf4163098471ce648", "iat": now, "exp": now + 60},
        APP_SECRET,
    )
    response = me(app_client, f"Bearer {token}")
    assert response.status_code == 200
    assert response.json() == {"_id": "6b086abbf4163098471ce648", "username": "nodeuser1"}


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="authkit"'),
        ("Basic dXNlcjpwYXNz", 'Bearer realm="authkit"'),
        (
            "Bearer not.a.jwt",
            'Bearer realm="authkit", error="invalid_token", '
            'error_description="The access token is invalid"',
        ),
    ],
)
def test_me_401_carries_www_authenticate(
    app_client: Client, authorization: str | None, challenge: str
) -> None:
    response = me(app_client, authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge


def test_me_401_for_an_expired_token_says_it_expired(app_client: Client) -> None:
    now = int(time.time())
    claims = claims_for(app_client, seed(app_client))
    expired = make_jwt({**claims, "iat": now - 3600, "exp": now - 1800}, APP_SECRET)
    forged = make_jwt({**claims, "iat": now - 3600, "exp": now - 1800}, "not-the-secret")

    response = me(app_client, f"Bearer {expired}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="authkit", error="invalid_token", '
        'error_description="The access token expired"'
    )
    assert response.json() == {"message": "Unauthorized", "statusCode": 401}  # the contract's
    # Expired too, but not signed with our secret: nothing says which check it failed.
    refused = me(app_client, f"Bearer {forged}")
    assert refused.headers["www-authenticate"].endswith(
        'error_description="The access token is invalid"'
    )
    assert refused.content == response.content


def test_signin_401_carries_www_authenticate(app_client: Client) -> None:
    seed(app_client)
    for body in ({"username": U_JSON, "password": "Wrong-pass1"}, {}):
        response = post_json(app_client, "/auth/signin", body)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Form realm="authkit"'


# ---------------------------------------------------------------- bodies


@pytest.fixture
def small_client(make_client: Callable[..., Client]) -> Client:
    return make_client(make_settings(APP_SECRET, server=ServerSettings(max_body_bytes=1024)))


TOO_LARGE_1024 = {
    "message": "Request body is larger than 1024 bytes",
    "error": "Payload Too Large",
    "statusCode": 413,
}


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
def test_body_over_the_cap_is_413(small_client: Client, path: str) -> None:
    response = post_json(small_client, path, {"username": "alice", "password": "x" * 1100})
    assert response.status_code == 413
    assert response.headers["content-type"] == JSON_UTF8
    assert response.json() == TOO_LARGE_1024


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
def test_streamed_body_over_the_cap_is_413(small_client: Client, path: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"username": "alice", "password": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = small_client.post(
        path, content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == TOO_LARGE_1024


def test_body_at_the_cap_is_read(small_client: Client) -> None:
    body = json.dumps({"username": "alice", "password": PASSWORD, "pad": ""})
    body = body.replace('"pad": ""', '"pad": "' + "x" * (1024 - len(body)) + '"')
    assert len(body) == 1024
    response = post_raw(small_client, "/auth/signup", body, "application/json")
    assert response.status_code == 201


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
def test_deeply_nested_json_is_400_not_500(make_client: Callable[..., Client], path: str) -> None:
    client = make_client(
        make_settings(APP_SECRET, server=ServerSettings(max_body_bytes=1024 * 1024))
    )
    response = post_raw(client, path, "[" * 200_000 + "]" * 200_000, "application/json")
    assert response.status_code == 400
    assert response.json() == {
        "message": "Request body is nested too deeply",
        "error": "Bad Request",
        "statusCode": 400,
    }


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
def test_invalid_utf8_json_is_400(app_client: Client, path: str) -> None:
    response = app_client.post(
        path,
        content=b'{"username": "al\xffice", "password": "Passw0rd!x"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "Request body is not valid UTF-8",
        "error": "Bad Request",
        "statusCode": 400,
    }


@pytest.mark.parametrize(
    "body", [b"username=al%FFice&password=Passw0rd%21x", b"username=al\xffice&password=x"]
)
def test_invalid_utf8_form_is_400(app_client: Client, body: bytes) -> None:
    response = app_client.post(
        "/auth/signup", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Form body is not valid UTF-8"


def test_form_with_too_many_fields_is_400(app_client: Client) -> None:
    body = "&".join(f"f{i}=x" for i in range(100))
    response = post_raw(app_client, "/auth/signup", body, "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
def test_huge_json_number_is_400_not_500(make_client: Callable[..., Client], path: str) -> None:
    # Python refuses to convert integers over 4300 digits (ValueError, not JSONDecodeError).
    client = make_client(raise_server_exceptions=False)
    body = '{"username": ' + "1" * 5000 + ', "password": "Passw0rd!x"}'
    response = post_raw(client, path, body, "application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"


# ---------------------------------------------------------------- the database


def outage(monkeypatch: pytest.MonkeyPatch, *methods: str) -> None:
    """Make these collection methods fail as pymongo does when no server answers.

    "find" stands for reading a cursor: pymongo's find() is lazy and fails on iteration.
    """

    def down(*args: object, **kwargs: object) -> None:
        raise ServerSelectionTimeoutError("no servers available")

    for method in methods:
        if method == "find":
            monkeypatch.setattr(mongomock.collection.Cursor, "__next__", down)
        else:
            monkeypatch.setattr(mongomock.collection.Collection, method, down)


def test_database_outage_on_signup_is_503(
    app_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    outage(monkeypatch, "insert_one")
    response = post_json(app_client, "/auth/signup", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 503
    assert response.headers["content-type"] == JSON_UTF8
    assert response.headers["retry-after"] == "5"
    assert response.json() == UNAVAILABLE_503
    assert list(response.json()) == list(UNAVAILABLE_503)


def test_database_outage_on_signin_is_503(
    app_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(app_client)
    outage(monkeypatch, "find_one", "find")
    response = post_json(app_client, "/auth/signin", {"username": U_JSON, "password": PASSWORD})
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE_503


def test_me_needs_no_database(app_client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    token = seed(app_client)
    outage(monkeypatch, "find_one", "find", "insert_one")
    assert me(app_client, f"Bearer {token}").status_code == 200


def test_app_starts_while_the_database_is_down_and_answers_503(
    make_client: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage(monkeypatch, "create_index")
    with caplog.at_level(logging.WARNING, logger="authkit"):
        client = make_client(make_settings(APP_SECRET))
    assert "not reachable yet" in caplog.text
    response = post_json(client, "/auth/signup", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE_503
    monkeypatch.undo()
    assert (
        post_json(client, "/auth/signup", {"username": "alice", "password": PASSWORD}).status_code
        == 201
    )


def test_unknown_paths_answer_express_404s_through_the_whole_app(client: TestClient) -> None:
    for method, path in (("GET", "/nope"), ("DELETE", "/a/b/c"), ("POST", "/auth/me")):
        response = client.request(method, path)
        assert response.status_code == 404
        assert response.headers["content-type"] == JSON_UTF8
        assert response.headers["x-request-id"]
        assert response.json() == {
            "message": f"Cannot {method} {path}",
            "error": "Not Found",
            "statusCode": 404,
        }
    # The path as decoded, and whole: '#' and '?' inside it are not a fragment or a query.
    odd = client.get("/a%23b%3Fc")
    assert odd.json()["message"] == "Cannot GET /a#b?c"


def test_a_websocket_to_an_unknown_path_is_closed(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/nope") as socket:
        socket.receive_text()


def test_an_endpoint_error_is_nests_500_and_the_app_goes_on(
    settings: Settings, db: Any, client_for: Callable[..., Client]
) -> None:
    app = create_app(settings, database=db)

    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    app.router.routes.append(Route("/broken", broken))
    client = client_for(app)  # raise_server_exceptions: nothing may escape the app
    response = client.get("/broken")
    assert client.get("/healthz").status_code == 200
    assert response.status_code == 500
    assert response.headers["content-type"] == JSON_UTF8
    assert response.json() == {"statusCode": 500, "message": "Internal server error"}
    assert "x-request-id" in response.headers


class Odd(ValueError):
    pass


def test_the_apps_exception_handlers_answer_its_routes_errors(
    settings: Settings, db: Any, client_for: Callable[..., Client]
) -> None:
    app = create_app(settings, database=db)

    async def on_odd(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(f"handled {type(exc).__name__}", status_code=499)

    async def odd(request: Request) -> Response:
        raise Odd("x")

    async def teapot(request: Request) -> Response:
        raise HTTPException(418)

    def from_a_thread(request: Request) -> Response:
        return PlainTextResponse("from a thread")

    app.add_exception_handler(Odd, on_odd)
    app.router.routes.extend([Route("/odd", odd), Route("/teapot", teapot)])
    client = client_for(app)
    odd_answer, teapot_answer = client.get("/odd"), client.get("/teapot")
    assert (odd_answer.status_code, odd_answer.text) == (499, "handled Odd")
    assert teapot_answer.status_code == 418
    assert teapot_answer.json() == {"message": "I'm a Teapot", "statusCode": 418}
    assert client.post("/odd").json()["message"] == "Cannot POST /odd"  # a 405 is Express's 404
    # A route added after the first request is served too, a sync endpoint in a thread.
    app.router.routes.append(Route("/sync", from_a_thread))
    assert client.get("/sync").text == "from a thread"


def test_a_path_with_a_newline_after_it_is_not_the_path_without_it(
    settings: Settings, db: Any, client_for: Callable[..., Client]
) -> None:
    # Starlette's `^/healthz$` also matches "/healthz\n"; Express answers its 404.
    app = create_app(settings, database=db, routes=[Route("/mine", lambda request: None)])
    client = client_for(app)
    for path in ("/healthz", "/auth/me", "/mine", "/docs/static/swagger-ui.css"):
        response = client.get(path + "%0A")
        assert response.status_code == 404
        assert response.headers["x-request-id"]
        assert response.json() == {
            "message": f"Cannot GET {path}\n",
            "error": "Not Found",
            "statusCode": 404,
        }
    assert client.get("/healthz").status_code == 200
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/mine%0A") as socket:
        socket.receive_text()


def test_the_documented_routes_keep_their_order(client: TestClient) -> None:
    # authkit lists its routes with the rarely requested ones last (the router tries them
    # in order); /openapi.json and /docs show the documented ones in the order they had.
    assert list(client.get("/openapi.json").json()["paths"]) == [
        "/auth/signup",
        "/auth/signin",
        "/auth/me",
        "/auth/refresh",
        "/auth/signout",
        "/auth/signout-all",
        "/auth/sessions",
        "/auth/sessions/{session_id}",
        "/.well-known/jwks.json",
        "/auth/mfa",
        "/auth/mfa/totp",
        "/auth/mfa/totp/confirm",
        "/auth/mfa/recovery-codes",
        "/auth/mfa/verify",
        "/auth/step-up",
        "/auth/email",
        "/auth/email/verification",
        "/auth/email/verify",
        "/auth/password/forgot",
        "/auth/password/reset",
        "/auth/password/change",
        "/auth/account",
        "/auth/passkeys/register/options",
        "/auth/passkeys/register",
        "/auth/passkeys",
        "/auth/passkeys/{passkey_id}",
        "/auth/passkeys/signin/options",
        "/auth/passkeys/signin",
        "/auth/passkeys/step-up/options",
        "/auth/passkeys/step-up",
        "/auth/admin/users",
        "/auth/admin/users/{user_id}",
        "/auth/admin/users/{user_id}/disable",
        "/auth/admin/users/{user_id}/enable",
        "/auth/admin/users/{user_id}/roles",
        "/auth/admin/users/{user_id}/unlock",
        "/auth/admin/users/{user_id}/signout-all",
        "/auth/admin/users/{user_id}/password",
    ]
