"""The token-lifecycle routes through the whole app (TestClient on mongomock): bodies,
status codes, the cookie, refresh tokens off, revocation checks on and off, JWKS, outages,
and the bcrypt cost upgrade on sign-in.

Expiry and rotation on an injected clock: tests/unit/test_lifecycle.py. The same over a
real uvicorn and database, with the concurrent-refresh race: tests/e2e/test_token_lifecycle.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import attrs
import bcrypt
import jwt as pyjwt
import mongomock
import pytest
from bson import ObjectId
from pymongo.errors import ServerSelectionTimeoutError
from support.jwt import b64url, bearer
from support.settings import make_settings

from authkit.settings.model import (
    CORSSettings,
    JWTSettings,
    SessionSettings,
    Settings,
)
from authkit.tokens.keys import SigningKeys

SECRET = "routes-test-secret-0123456789abcdef0123456789"
PASSWORD = "Passw0rd!x"
JSON_UTF8 = "application/json; charset=utf-8"
BARE_401 = {"message": "Unauthorized", "statusCode": 401}
BAD_REFRESH = {
    "message": "Invalid or expired refresh token",
    "error": "Unauthorized",
    "statusCode": 401,
}

Client = Any


def settings_with(rounds: int = 4, jwt: JWTSettings | None = None, **sessions: Any) -> Settings:
    """make_settings with these session options (SessionSettings' fields) and bcrypt rounds."""
    extra = {"jwt": jwt} if jwt else {}
    return make_settings(
        SECRET, bcrypt_rounds=rounds, sessions=SessionSettings(**sessions), **extra
    )


@pytest.fixture
def app(make_client: Callable[..., Client]) -> Callable[..., Client]:
    def build(**options: Any) -> Client:
        return make_client(settings_with(**options))

    return build


def sign_up_and_in(client: Client, username: str = "alice", **headers: str) -> Any:
    client.post("/auth/signup", json={"username": username, "password": PASSWORD})
    response = client.post(
        "/auth/signin", json={"username": username, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response


# ---------------------------------------------------------------- refresh, body mode


def test_signin_and_refresh_return_pairs_and_forbid_caching(app: Callable[..., Client]) -> None:
    client = app()
    signin = sign_up_and_in(client)
    assert list(signin.json()) == ["accessToken", "refreshToken"]
    assert signin.headers["cache-control"] == "no-store"
    assert "authkit_refresh" not in signin.headers.get("set-cookie", "")

    refreshed = client.post("/auth/refresh", json={"refreshToken": signin.json()["refreshToken"]})
    assert refreshed.status_code == 200
    assert refreshed.headers["content-type"] == JSON_UTF8
    assert refreshed.headers["cache-control"] == "no-store"
    assert list(refreshed.json()) == ["accessToken", "refreshToken"]
    assert refreshed.json()["refreshToken"] != signin.json()["refreshToken"]
    me = client.get("/auth/me", headers=bearer(refreshed.json()["accessToken"]))
    assert me.json()["username"] == "alice"

    # A form body works too; the used token does not (within the reuse grace the session
    # lives on: a client racing itself).
    form = client.post("/auth/refresh", data={"refreshToken": signin.json()["refreshToken"]})
    assert (form.status_code, form.json()) == (401, BAD_REFRESH)
    assert form.headers["www-authenticate"] == 'RefreshToken realm="authkit"'
    again = client.post("/auth/refresh", data={"refreshToken": refreshed.json()["refreshToken"]})
    assert again.status_code == 200


def test_with_no_reuse_grace_a_second_use_revokes_the_session(app: Callable[..., Client]) -> None:
    client = app(reuse_grace=0)
    first = sign_up_and_in(client).json()["refreshToken"]
    second = client.post("/auth/refresh", json={"refreshToken": first}).json()["refreshToken"]
    assert client.post("/auth/refresh", json={"refreshToken": first}).status_code == 401
    assert client.post("/auth/refresh", json={"refreshToken": second}).status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "refreshToken is missing: send it in the body or the authkit_refresh cookie"),
        ({"refreshToken": 12345}, "refreshToken must be a string"),
        ({"refreshToken": ["a", "b"]}, "refreshToken must be a string"),
        ({"refreshToken": {"$ne": None}}, "refreshToken must be a string"),
        ({"refreshToken": None}, "refreshToken must be a string"),
    ],
)
def test_refresh_without_a_string_token_is_a_400(
    app: Callable[..., Client], body: dict[str, Any], message: str
) -> None:
    response = app().post("/auth/refresh", json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["message", "error", "statusCode"]
    assert response.json()["message"][0].startswith(message)
    assert response.json()["error"] == "Bad Request"


@pytest.mark.parametrize(
    "content",
    [b'{"refreshToken": ', b"\xff\xfe", b'{"refreshToken": "\\ud800\\udfff\\ud800"}', b"[]"],
)
def test_refresh_with_a_hostile_body_is_a_4xx(app: Callable[..., Client], content: bytes) -> None:
    response = app().post(
        "/auth/refresh", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 401)
    assert response.json()["statusCode"] == response.status_code


def test_refresh_with_an_unknown_token_is_a_401(app: Callable[..., Client]) -> None:
    for token in ("A" * 43, "short", "x" * 5000):
        response = app().post("/auth/refresh", json={"refreshToken": token})
        assert (response.status_code, response.json()) == (401, BAD_REFRESH)


# ---------------------------------------------------------------- cookie mode and off


def cookies_of(response: Any) -> SimpleCookie:
    # One Set-Cookie header each: a sign-in sets the device cookie beside the refresh one.
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def cookie_of(response: Any) -> Any:
    return cookies_of(response)["authkit_refresh"]


def test_cookie_mode_keeps_the_reference_body_and_sets_a_locked_down_cookie(
    app: Callable[..., Client],
) -> None:
    client = app(refresh_tokens="cookie", cookie_samesite="lax")
    signin = sign_up_and_in(client)
    assert list(signin.json()) == ["accessToken"]
    cookie = cookie_of(signin)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie.value)
    assert cookie["httponly"] and cookie["secure"]
    assert (cookie["path"], cookie["samesite"].lower()) == ("/auth", "lax")
    assert cookie["max-age"] == str(14 * 86400)

    # The test client keeps no Secure cookie over http, so the header is sent by hand.
    refreshed = client.post("/auth/refresh", headers={"Cookie": f"authkit_refresh={cookie.value}"})
    assert refreshed.status_code == 200, refreshed.text
    assert list(refreshed.json()) == ["accessToken"]
    rotated = cookie_of(refreshed)
    assert rotated.value != cookie.value

    signout = client.post(
        "/auth/signout",
        headers={
            **bearer(refreshed.json()["accessToken"]),
            "Cookie": f"authkit_refresh={rotated.value}",
        },
    )
    assert signout.status_code == 204
    cleared = cookie_of(signout)
    assert cleared.value == "" and cleared["max-age"] == "0" and cleared["path"] == "/auth"
    gone = client.post("/auth/refresh", headers={"Cookie": f"authkit_refresh={rotated.value}"})
    assert gone.status_code == 401


CROSS_SITE_FORM = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def test_cookie_mode_refuses_another_sites_page_login_csrf(
    app: Callable[..., Client], make_client: Callable[..., Client]
) -> None:
    client = app(refresh_tokens="cookie")
    mallory = cookie_of(sign_up_and_in(client, "mallory")).value
    # A cross-site <form method=post>: no preflight, the attacker's token in a field.
    for path, data in (
        ("/auth/refresh", {"refreshToken": mallory}),
        ("/auth/signin", {"username": "mallory", "password": PASSWORD}),
    ):
        for headers in (CROSS_SITE_FORM, {"Origin": "https://evil.example"}):
            refused = client.post(path, data=data, headers=headers)
            assert refused.status_code == 403, (path, headers, refused.text)
            assert "set-cookie" not in refused.headers
            assert refused.json()["message"].startswith("Cross-site request refused")
    # The service's own page (any scheme: TLS may end at a proxy) and a client with no
    # Origin at all (curl, a mobile app) carry on.
    own = {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}
    assert (
        client.post("/auth/refresh", data={"refreshToken": mallory}, headers=own).status_code == 200
    )
    signin = client.post("/auth/signin", json={"username": "mallory", "password": PASSWORD})
    assert signin.status_code == 201

    trusting = make_client(
        attrs.evolve(
            settings_with(refresh_tokens="cookie"),
            cors=CORSSettings(origins=("https://app.example",)),
        )
    )
    trusted = {"Origin": "https://app.example", "Sec-Fetch-Site": "cross-site"}
    response = sign_up_and_in(trusting, "trudy", **trusted)
    assert response.status_code == 201 and cookie_of(response).value


@pytest.mark.parametrize("origin", ["http://[", "http://[::1", "null"])
def test_cookie_mode_refuses_an_origin_that_is_no_url_with_403(
    make_client: Callable[..., Client], origin: str
) -> None:
    client = make_client(settings_with(refresh_tokens="cookie"))
    sign_up_and_in(client, "victim")
    for path in ("/auth/signin", "/auth/refresh"):
        refused = client.post(
            path, json={"username": "victim", "password": PASSWORD}, headers={"Origin": origin}
        )
        assert refused.status_code == 403, refused.text


def test_cookie_mode_refuses_a_cross_site_signin_before_any_password_work(
    make_client: Callable[..., Client], db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(settings_with(refresh_tokens="cookie"))
    sign_up_and_in(client, "victim")
    failures_before = db["signin_failures"].count_documents({})
    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counted(password: bytes, hashed: bytes) -> bool:
        checks.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counted)
    # Another site's form guessing at the victim's password, and one naming nobody: both
    # refused for where they come from, before bcrypt and before the throttle counts them.
    for username in ("victim", "nobody-at-all"):
        refused = client.post(
            "/auth/signin",
            data={"username": username, "password": "a-wrong-guess"},
            headers=CROSS_SITE_FORM,
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["message"].startswith("Cross-site request refused")
    assert checks == []
    assert db["signin_failures"].count_documents({}) == failures_before


def test_host_prefixed_refresh_cookie_is_locked_to_this_host(
    app: Callable[..., Client],
) -> None:
    client = app(refresh_tokens="cookie", cookie_host_prefix=True)
    signin = sign_up_and_in(client)
    jar = cookies_of(signin)
    assert sorted(jar) == ["__Host-authkit_refresh", "authkit_device"]
    cookie = jar["__Host-authkit_refresh"]
    # What a browser demands of a __Host- cookie before it keeps it (RFC 6265bis 4.1.3.2).
    assert cookie["path"] == "/" and cookie["secure"] and not cookie["domain"]
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict"

    refreshed = client.post(
        "/auth/refresh", headers={"Cookie": f"__Host-authkit_refresh={cookie.value}"}
    )
    assert refreshed.status_code == 200, refreshed.text
    rotated = SimpleCookie()
    rotated.load(refreshed.headers["set-cookie"])
    # The unprefixed name is not read: a cookie planted by a sibling subdomain is ignored.
    planted = client.post(
        "/auth/refresh",
        headers={"Cookie": f"authkit_refresh={rotated['__Host-authkit_refresh'].value}"},
    )
    assert planted.status_code == 400
    assert "__Host-authkit_refresh cookie" in planted.json()["message"][0]
    signout = client.post(
        "/auth/signout",
        headers={
            **bearer(refreshed.json()["accessToken"]),
            "Cookie": f"__Host-authkit_refresh={rotated['__Host-authkit_refresh'].value}",
        },
    )
    cleared = SimpleCookie()
    cleared.load(signout.headers["set-cookie"])
    assert cleared["__Host-authkit_refresh"]["path"] == "/"
    assert cleared["__Host-authkit_refresh"]["max-age"] == "0"


def test_body_mode_sets_no_cookie_so_other_origins_are_not_refused(
    app: Callable[..., Client],
) -> None:
    client = app()
    refresh = sign_up_and_in(client).json()["refreshToken"]
    response = client.post("/auth/refresh", json={"refreshToken": refresh}, headers=CROSS_SITE_FORM)
    assert response.status_code == 200


def test_refresh_off_gives_the_reference_body_and_no_refresh_route(
    app: Callable[..., Client],
) -> None:
    client = app(refresh_tokens="off")
    signin = sign_up_and_in(client)
    assert list(signin.json()) == ["accessToken"]
    assert "authkit_refresh" not in signin.headers.get("set-cookie", "")
    response = client.post("/auth/refresh", json={"refreshToken": "A" * 43})
    assert response.status_code == 404
    assert response.json()["message"] == "Cannot POST /auth/refresh"
    sessions = client.get("/auth/sessions", headers=bearer(signin.json()["accessToken"]))
    assert sessions.json() == {"sessions": []}


# ---------------------------------------------------------------- sign-out, sessions


def test_sessions_list_and_revoke_over_http(app: Callable[..., Client]) -> None:
    client = app()
    laptop = sign_up_and_in(client, **{"User-Agent": "Firefox/130"}).json()
    phone = client.post(
        "/auth/signin",
        json={"username": "alice", "password": PASSWORD},
        headers={"User-Agent": "x" * 1000},
    ).json()
    sign_up_and_in(client, "bobby")

    listed = client.get("/auth/sessions", headers=bearer(laptop["accessToken"]))
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    sessions = listed.json()["sessions"]
    assert len(sessions) == 2
    for session in sessions:
        assert list(session) == [
            "id",
            "createdAt",
            "lastUsedAt",
            "expiresAt",
            "userAgent",
            "current",
        ]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", session["createdAt"])
    by_agent = {s["userAgent"]: s for s in sessions}
    assert by_agent["Firefox/130"]["current"] is True
    assert by_agent["x" * 256]["current"] is False  # user agents are cut at 256 characters
    text = listed.text
    assert laptop["refreshToken"] not in text and phone["refreshToken"] not in text

    phone_id = by_agent["x" * 256]["id"]
    revoked = client.delete(f"/auth/sessions/{phone_id}", headers=bearer(laptop["accessToken"]))
    assert (revoked.status_code, revoked.content) == (204, b"")
    for session_id in (phone_id, "nope", "a" * 65, "%2e%2e", "é"):
        missing = client.delete(
            f"/auth/sessions/{session_id}", headers=bearer(laptop["accessToken"])
        )
        assert missing.status_code == 404, session_id
        assert missing.json() == {
            "message": "Session not found",
            "error": "Not Found",
            "statusCode": 404,
        }
    assert (
        client.post("/auth/refresh", json={"refreshToken": phone["refreshToken"]}).status_code
        == 401
    )
    assert client.get("/auth/sessions").status_code == 401
    assert client.delete(f"/auth/sessions/{phone_id}").status_code == 401


def test_another_users_session_cannot_be_revoked(app: Callable[..., Client]) -> None:
    client = app()
    alice = sign_up_and_in(client).json()
    bob = sign_up_and_in(client, "bobby").json()
    bobs_id = client.get("/auth/sessions", headers=bearer(bob["accessToken"])).json()["sessions"][
        0
    ]["id"]
    response = client.delete(f"/auth/sessions/{bobs_id}", headers=bearer(alice["accessToken"]))
    assert response.status_code == 404
    assert (
        client.post("/auth/refresh", json={"refreshToken": bob["refreshToken"]}).status_code == 200
    )


def test_signout_needs_a_bearer_and_tolerates_a_missing_refresh_token(
    app: Callable[..., Client],
) -> None:
    client = app()
    pair = sign_up_and_in(client).json()
    assert (
        client.post("/auth/signout", json={"refreshToken": pair["refreshToken"]}).json() == BARE_401
    )
    for wrong in (5, None, ["a"]):
        bad = client.post(
            "/auth/signout", json={"refreshToken": wrong}, headers=bearer(pair["accessToken"])
        )
        assert bad.status_code == 400, wrong
    for content in (b"[null, null]", b'"x"', b"7"):
        bad = client.post(
            "/auth/signout",
            content=content,
            headers={**bearer(pair["accessToken"]), "content-type": "application/json"},
        )
        assert bad.status_code == 400, content
        assert bad.json()["message"].startswith("Request body must be a JSON object")
    ok = client.post("/auth/signout", headers=bearer(pair["accessToken"]))
    assert (ok.status_code, ok.content) == (204, b"")
    # The session of the access token's sid is over, refresh token or not.
    assert (
        client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}).status_code == 401
    )


@pytest.mark.parametrize("checks", [False, True])
def test_signout_and_signout_all_with_and_without_revocation_checks(
    app: Callable[..., Client], checks: bool
) -> None:
    client = app(revocation_checks=checks)
    first = sign_up_and_in(client).json()
    second = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()

    out = client.post(
        "/auth/signout",
        json={"refreshToken": first["refreshToken"]},
        headers=bearer(first["accessToken"]),
    )
    assert out.status_code == 204
    me = client.get("/auth/me", headers=bearer(first["accessToken"]))
    # Checks on: refused at once. Off: /auth/me reads no database; the token lives to its exp.
    assert me.status_code == (401 if checks else 200)

    everywhere = client.post("/auth/signout-all", headers=bearer(second["accessToken"]))
    assert everywhere.status_code == 204
    me = client.get("/auth/me", headers=bearer(second["accessToken"]))
    assert me.status_code == (401 if checks else 200)
    assert (
        client.post("/auth/refresh", json={"refreshToken": second["refreshToken"]}).status_code
        == 401
    )

    again = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()
    assert client.get("/auth/me", headers=bearer(again["accessToken"])).status_code == 200


def test_revocation_checks_refuse_a_token_whose_user_is_gone(
    app: Callable[..., Client], db: Any
) -> None:
    client = app(revocation_checks=True)
    token = sign_up_and_in(client).json()["accessToken"]
    db["users"].delete_many({})
    assert client.get("/auth/me", headers=bearer(token)).json() == BARE_401


def test_a_database_outage_during_refresh_or_checks_is_a_503(
    app: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app(revocation_checks=True)
    pair = sign_up_and_in(client).json()

    def down(*args: object, **kwargs: object) -> None:
        raise ServerSelectionTimeoutError("no servers available")

    monkeypatch.setattr(mongomock.collection.Collection, "find_one_and_update", down)
    monkeypatch.setattr(mongomock.collection.Collection, "find_one", down)
    for response in (
        client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}),
        client.get("/auth/me", headers=bearer(pair["accessToken"])),
    ):
        assert response.status_code == 503
        assert response.json()["statusCode"] == 503
        assert response.headers["retry-after"] == "5"


# ---------------------------------------------------------------- JWKS and managed keys


def failing_once(collection: str, method: str = "insert_one") -> Callable[..., Any]:
    """A mongomock method that raises as a dropped database would, once, on `collection`."""
    real = getattr(mongomock.collection.Collection, method)
    calls = {"failed": False}

    def flaky(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name == collection and not calls["failed"]:
            calls["failed"] = True
            raise ServerSelectionTimeoutError("the database went away for a moment")
        return real(self, *args, **kwargs)

    return flaky


@pytest.mark.parametrize("grace", [10, 0])
def test_a_503_during_refresh_leaves_the_token_for_the_retry(
    app: Callable[..., Client],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    grace: int,
) -> None:
    client = app(reuse_grace=grace)
    refresh = sign_up_and_in(client).json()["refreshToken"]
    flaky = failing_once("refresh_tokens")  # the successor's insert fails
    monkeypatch.setattr(mongomock.collection.Collection, "insert_one", flaky)
    caplog.set_level(logging.INFO, logger="authkit.security")

    first = client.post("/auth/refresh", json={"refreshToken": refresh})
    retry = client.post("/auth/refresh", json={"refreshToken": refresh})

    assert first.status_code == 503  # "try again shortly"
    assert retry.status_code == 200, retry.text  # a retry, not a replay
    events = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert "refresh_token_reused" not in events


def test_a_database_blip_while_ending_a_session_does_not_lose_the_denial(
    app: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app(revocation_checks=True)
    pair = sign_up_and_in(client).json()
    other = client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}).json()
    listed = client.get("/auth/sessions", headers=bearer(other["accessToken"])).json()
    session_id = listed["sessions"][0]["id"]
    # The denial is one upsert into revoked_tokens: that write fails, once.
    monkeypatch.setattr(
        mongomock.collection.Collection,
        "update_one",
        failing_once("revoked_tokens", "update_one"),
    )

    first = client.delete(f"/auth/sessions/{session_id}", headers=bearer(other["accessToken"]))
    retry = client.delete(f"/auth/sessions/{session_id}", headers=bearer(other["accessToken"]))

    assert (first.status_code, retry.status_code) == (503, 204)
    for token in (pair["accessToken"], other["accessToken"]):
        assert client.get("/auth/me", headers=bearer(token)).status_code == 401


def test_jwks_is_empty_with_hs256(app: Callable[..., Client]) -> None:
    response = app().get("/.well-known/jwks.json")
    assert (response.status_code, response.json()) == (200, {"keys": []})
    assert response.headers["cache-control"] == "public, max-age=300"


def test_a_key_set_signs_tokens_other_services_verify_from_the_jwks(
    make_client: Callable[..., Client], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    SigningKeys.generate("ES256", 1_700_000_000).write(path, replace=False)
    jwt = JWTSettings(keys_file=path, issuer="https://auth.test", audience="api")
    client = make_client(settings_with(jwt=jwt))
    token = sign_up_and_in(client).json()["accessToken"]

    jwks = client.get("/.well-known/jwks.json").json()
    key = pyjwt.PyJWKSet.from_dict(jwks)[pyjwt.get_unverified_header(token)["kid"]]
    claims = pyjwt.decode(
        token, key, algorithms=["ES256"], audience="api", issuer="https://auth.test"
    )
    assert claims["username"] == "alice"
    assert client.get("/auth/me", headers=bearer(token)).status_code == 200
    hs256 = pyjwt.encode({**claims, "kid": None}, SECRET, algorithm="HS256")
    assert client.get("/auth/me", headers=bearer(hs256)).status_code == 401


@pytest.mark.parametrize(
    "header",
    [b"[" * 3000, b'{"kid":"' + b"a" * 2000 + b'"}', b"not json", b"[1]"],
    ids=["deeply-nested", "oversized", "not-json", "not-an-object"],
)
def test_a_hostile_header_with_a_key_set_is_a_401_not_a_500(
    make_client: Callable[..., Client], tmp_path: Path, header: bytes
) -> None:
    path = tmp_path / "keys.json"
    SigningKeys.generate("ES256", 1_700_000_000).write(path, replace=False)
    client = make_client(
        settings_with(jwt=JWTSettings(keys_file=path)), raise_server_exceptions=False
    )
    segment = b64url(header)
    token = f"{segment}.e30.c2ln"
    assert len(token) < 8192  # under the token cap: the header is what must be refused
    response = client.get("/auth/me", headers=bearer(token))
    assert response.status_code == 401, response.text


def test_an_unusable_key_set_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    from authkit import create_app
    from authkit.core.errors import ConfigError

    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": []}))
    with pytest.raises(ConfigError, match=r"^AUTHKIT_JWT_KEYS: .*keys\.json"):
        create_app(
            settings_with(jwt=JWTSettings(keys_file=path)), database=mongomock.MongoClient().db
        )


# ---------------------------------------------------------------- the bcrypt cost upgrade


def insert_user(db: Any, username: str, password_hash: str) -> None:
    db["users"].insert_one(
        {"_id": ObjectId(), "username": username, "password": password_hash, "__v": 0}
    )


def test_a_hash_of_another_cost_is_upgraded_at_the_next_signin(
    app: Callable[..., Client], db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = app(rounds=5)
    old = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    insert_user(db, "alice", old)

    wrong = client.post("/auth/signin", json={"username": "alice", "password": "Wrong-pass1"})
    assert wrong.status_code == 401
    assert db["users"].find_one()["password"] == old  # nothing changes without the password

    with caplog.at_level(logging.INFO, logger="authkit.security"):
        signin = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert signin.status_code == 201
    doc = db["users"].find_one()
    assert doc["password"].startswith("$2b$05$")
    assert bcrypt.checkpw(PASSWORD.encode(), doc["password"].encode())
    # The NestJS app's fields, and the canonical name its first sign-in here gave it.
    assert sorted(doc) == [
        "__v",
        "_id",
        "password",
        "username",
        "username_canonical",
        "username_key",
    ]
    (event,) = [r.fields for r in caplog.records if r.getMessage() == "password hash upgraded"]  # type: ignore[attr-defined]
    assert (event["event"], event["from_cost"], event["to_cost"]) == ("password_rehashed", "04", 5)
    logged = caplog.text + repr([getattr(r, "fields", None) for r in caplog.records])
    assert PASSWORD not in logged and old not in logged and doc["password"] not in logged
    again = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert again.status_code == 201 and db["users"].find_one()["password"] == doc["password"]


def test_node_hashes_of_the_right_cost_are_left_alone(
    app: Callable[..., Client],
    db: Any,
    node_compat: dict[str, Any],
    bcryptjs_hashes: dict[str, Any],
) -> None:
    client = app(rounds=10)  # what the NestJS app used
    users = node_compat["users"] + bcryptjs_hashes["users"]
    for user in users:
        assert user["hash"][:7] in ("$2b$10$", "$2a$10$")
        insert_user(db, user["username"], user["hash"])
        signin = client.post(
            "/auth/signin", json={"username": user["username"], "password": user["password"]}
        )
        assert signin.status_code == 201, user["username"]
        assert db["users"].find_one({"username": user["username"]})["password"] == user["hash"]


def test_a_node_hash_of_a_long_password_is_upgraded_from_the_bytes_node_hashed(
    app: Callable[..., Client], db: Any, node_compat: dict[str, Any]
) -> None:
    long_ones = [u for u in node_compat["users"] if len(u["password"].encode()) > 72]
    assert long_ones, "node-compat.json has a user with a password over 72 bytes"
    user = long_ones[0]
    insert_user(db, user["username"], user["hash"])
    client = app(rounds=4)
    body = {"username": user["username"], "password": user["password"]}
    assert client.post("/auth/signin", json=body).status_code == 201
    upgraded = db["users"].find_one()["password"]
    assert upgraded.startswith("$2b$04$")
    assert client.post("/auth/signin", json=body).status_code == 201


@pytest.mark.parametrize(("max_age", "lives"), [(timedelta(hours=1), 3600), (None, 14 * 86400)])
def test_the_sessions_max_age_bounds_what_the_sessions_list_shows(
    app: Callable[..., Client], max_age: timedelta | None, lives: int
) -> None:
    client = app(max_age=max_age)  # AUTHKIT_SESSION_MAX_AGE=1h, then off
    signin = sign_up_and_in(client).json()
    (session,) = client.get("/auth/sessions", headers=bearer(signin["accessToken"])).json()[
        "sessions"
    ]
    created, expires = (
        datetime.fromisoformat(session[key].replace("Z", "+00:00"))
        for key in ("createdAt", "expiresAt")
    )
    assert (expires - created).total_seconds() == lives
    refreshed = client.post("/auth/refresh", json={"refreshToken": signin["refreshToken"]})
    assert refreshed.status_code == 200


def test_the_refresh_cookie_does_not_outlive_the_session(app: Callable[..., Client]) -> None:
    client = app(refresh_tokens="cookie", max_age=timedelta(hours=1))
    signin = sign_up_and_in(client)
    assert int(cookie_of(signin)["max-age"]) == 3600  # not the refresh TTL's 14 days
    sent = {"Cookie": f"authkit_refresh={cookie_of(signin).value}"}
    refreshed = client.post("/auth/refresh", headers=sent)
    assert refreshed.status_code == 200
    assert 3590 <= int(cookie_of(refreshed)["max-age"]) <= 3600
    lasting = sign_up_and_in(app(refresh_tokens="cookie"), "bobby")
    assert int(cookie_of(lasting)["max-age"]) == 14 * 86400
