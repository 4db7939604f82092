"""The example plugins end to end: `uvicorn demo_app:app` (authkit plus routes guarded by
`apikey` and `basic`) as a real process on a real database, talked to over HTTP, and the
`authkit apikey` commands as real processes.

What a client sees: keys made with a JWT open routes guarded by `apikey`; chains try
strategies in order and the first success wins; a 401 names every challenge; a key
lacking a scope gets 403 naming it; revoked keys and keys of deleted users get 401;
HTTP Basic shares sign-in's throttle (429 after AUTHKIT_SIGNIN_LIMIT_ACCOUNT failures).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from bson import ObjectId
from joserfc import jwt
from joserfc.jwk import OctKey
from pymongo.database import Database
from support.jwt import bearer
from support.plugins import ACCOUNT_LIMIT, Accounts, Demo
from support.processes import eventually

from authkit.storage.embedded import free_port

pytest.importorskip(
    "authkit_apikey",
    reason="authkit-apikey (docs/examples) is not installed: tox -e plugins does it",
)
pytest.importorskip(
    "authkit_basic", reason="authkit-basic (docs/examples) is not installed: tox -e plugins does it"
)

pytestmark = pytest.mark.e2e

PASSWORD = "Passw0rd!x"
KEY = re.compile(r"ak_[A-Za-z0-9_-]{43}")
BEARER = 'Bearer realm="authkit"'
BAD_BEARER = (
    'Bearer realm="authkit", error="invalid_token", error_description="The access token is invalid"'
)
APIKEY = 'APIKey header="X-API-Key"'
BASIC = 'Basic realm="authkit", charset="UTF-8"'
UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}

Cli = Callable[..., tuple[int, str, str]]


def basic(username: str, password: str) -> dict[str, str]:
    import base64

    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def scoped_token(secret: str, user_id: str, username: str, scope: str) -> dict[str, str]:
    """A JWT as an identity provider sharing JWT_SECRET would issue it, with a `scope` claim."""
    now = int(time.time())
    # No longer-lived than JWT_EXPIRES_IN (60 s here): authkit refuses a token that is.
    claims = {"username": username, "sub": user_id, "scope": scope, "iat": now, "exp": now + 60}
    token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(secret))
    return bearer(token)


def new_key(demo: Demo, token: dict[str, str], label: str = "ci", **body: Any) -> dict[str, Any]:
    answer = demo.http.post("/auth/api-keys", json={"label": label, **body}, headers=token)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def user_id(mongo_db: Database[dict[str, Any]], username: str) -> str:
    doc = mongo_db["users"].find_one({"username": username})
    assert doc is not None
    return str(doc["_id"])


def test_a_key_made_with_a_jwt_opens_apikey_routes_and_its_use_is_recorded(
    demo: Demo, accounts: Accounts, mongo_db: Database[dict[str, Any]]
) -> None:
    token = accounts.user_with_token("alice", PASSWORD)

    made = new_key(demo, token, "deploy bot")

    assert KEY.fullmatch(made["key"])
    assert made["label"] == "deploy bot" and made["lastUsedAt"] is None
    stored = mongo_db["api_keys"].find_one({"_id": ObjectId(made["id"])})
    assert stored is not None
    assert stored["key_hash"] == hashlib.sha256(made["key"].encode()).hexdigest()
    assert made["key"] not in repr(stored)

    answer = demo.http.get("/demo/either", headers={"X-API-Key": made["key"]})
    assert answer.status_code == 200
    assert answer.json() == {
        "id": user_id(mongo_db, "alice"),
        "username": "alice",
        "scopes": [],
        "apiKeyId": made["id"],
    }

    def last_used() -> Any:
        doc = mongo_db["api_keys"].find_one({"_id": ObjectId(made["id"])})
        return doc and doc["last_used_at"]

    used = eventually(last_used)  # written after the answer, in the background
    listed = demo.http.get("/auth/api-keys", headers=token)
    assert listed.status_code == 200
    assert [(k["id"], k["lastUsedAt"] is not None) for k in listed.json()] == [(made["id"], True)]
    assert listed.json()[0]["lastUsedAt"].startswith(used.strftime("%Y-%m-%dT%H:%M:%S"))
    assert made["key"] not in listed.text and stored["key_hash"] not in listed.text


def test_the_first_strategy_that_succeeds_wins_and_all_failing_names_every_challenge(
    demo: Demo, accounts: Accounts, mongo_db: Database[dict[str, Any]]
) -> None:
    alice = accounts.user_with_token("alice", PASSWORD)
    bob_key = new_key(demo, accounts.user_with_token("bobby", PASSWORD))

    both = demo.http.get("/demo/either", headers={**alice, "X-API-Key": bob_key["key"]})
    assert both.status_code == 200
    assert (both.json()["username"], both.json()["apiKeyId"]) == ("alice", None)  # jwt first

    bad_token = {"Authorization": "Bearer not.a.token", "X-API-Key": bob_key["key"]}
    fallback = demo.http.get("/demo/either", headers=bad_token)
    assert fallback.status_code == 200
    assert (fallback.json()["username"], fallback.json()["apiKeyId"]) == ("bobby", bob_key["id"])

    nothing = demo.http.get("/demo/either")
    assert (nothing.status_code, nothing.json()) == (401, UNAUTHORIZED)
    assert nothing.headers["www-authenticate"] == f"{BEARER}, {APIKEY}"

    wrong = demo.http.get(
        "/demo/either", headers={"Authorization": "Bearer x.y.z", "X-API-Key": "ak_" + "A" * 43}
    )
    assert (wrong.status_code, wrong.json()) == (401, UNAUTHORIZED)
    assert wrong.headers["www-authenticate"] == f"{BAD_BEARER}, {APIKEY}"


def test_a_missing_scope_is_403_naming_it_and_no_key_is_401(
    demo: Demo, accounts: Accounts, mongo_db: Database[dict[str, Any]], jwt_secret: str
) -> None:
    token = accounts.user_with_token("alice", PASSWORD)
    plain = new_key(demo, token)

    lacking = demo.http.get("/demo/reports", headers={"X-API-Key": plain["key"]})
    assert lacking.status_code == 403
    assert lacking.json() == {
        "message": "Missing scope: reports:read",
        "error": "Forbidden",
        "statusCode": 403,
    }
    assert lacking.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="reports:read"'
    )

    for headers in ({}, token, {"X-API-Key": "ak_" + "B" * 43}):
        refused = demo.http.get("/demo/reports", headers=headers)
        assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
        assert refused.headers["www-authenticate"] == APIKEY

    # A token carrying the scope may put it on a key; the key then opens the route.
    scoped = scoped_token(jwt_secret, user_id(mongo_db, "alice"), "alice", "reports:read")
    assert demo.http.post(
        "/auth/api-keys", json={"label": "r", "scopes": ["reports:read"]}, headers=token
    ).json() == {
        "message": "Cannot grant scopes your token does not carry: reports:read",
        "error": "Forbidden",
        "statusCode": 403,
    }
    reader = new_key(demo, scoped, "reports", scopes=["reports:read"])
    allowed = demo.http.get("/demo/reports", headers={"X-API-Key": reader["key"]})
    assert allowed.status_code == 200
    assert allowed.json()["scopes"] == ["reports:read"]


def test_revoked_keys_and_other_peoples_keys(demo: Demo, accounts: Accounts) -> None:
    alice = accounts.user_with_token("alice", PASSWORD)
    bob = accounts.user_with_token("bobby", PASSWORD)
    made = new_key(demo, alice)
    key = {"X-API-Key": made["key"]}

    not_bobs = demo.http.delete(f"/auth/api-keys/{made['id']}", headers=bob)
    assert not_bobs.status_code == 404
    assert not_bobs.json() == {
        "message": "API key not found",
        "error": "Not Found",
        "statusCode": 404,
    }
    assert demo.http.get("/demo/either", headers=key).status_code == 200

    revoked = demo.http.delete(f"/auth/api-keys/{made['id']}", headers=alice)
    assert (revoked.status_code, revoked.content) == (204, b"")

    refused = demo.http.get("/demo/either", headers=key)
    assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
    assert APIKEY in refused.headers["www-authenticate"]
    assert demo.http.get("/auth/api-keys", headers=alice).json()[0]["revokedAt"] is not None
    assert demo.http.get("/auth/api-keys", headers=bob).json() == []


def test_basic_authenticates_then_shares_the_sign_in_throttle(
    demo: Demo, accounts: Accounts, mongo_db: Database[dict[str, Any]]
) -> None:
    accounts.sign_up("jürgen", "pässwörd€1")
    accounts.sign_up("alice", PASSWORD)

    utf8 = demo.http.get("/demo/basic", headers=basic("jürgen", "pässwörd€1"))
    assert utf8.status_code == 200
    assert utf8.json()["username"] == "jürgen"
    ok = demo.http.get("/demo/basic", headers=basic("alice", PASSWORD))
    assert ok.status_code == 200
    assert ok.json()["id"] == user_id(mongo_db, "alice")

    malformed = demo.http.get("/demo/basic", headers={"Authorization": "Basic !!!"})
    assert (malformed.status_code, malformed.json()) == (401, UNAUTHORIZED)
    assert malformed.headers["www-authenticate"] == BASIC

    for _ in range(ACCOUNT_LIMIT):
        wrong = demo.http.get("/demo/basic", headers=basic("alice", "wrong-password"))
        assert wrong.status_code == 401
        assert wrong.json() == {
            "message": "Invalid credentials",
            "error": "Unauthorized",
            "statusCode": 401,
        }
        assert wrong.headers["www-authenticate"] == BASIC

    throttled = demo.http.get("/demo/basic", headers=basic("alice", PASSWORD))
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 15 * 60
    assert throttled.json()["statusCode"] == 429
    # One throttle for every password check: sign-in is locked for alice too, jürgen is not.
    signin = demo.http.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert signin.status_code == 429
    assert demo.http.get("/demo/basic", headers=basic("jürgen", "pässwörd€1")).status_code == 200


def test_a_mounted_guarded_app_takes_basic_or_a_key(demo: Demo, accounts: Accounts) -> None:
    token = accounts.user_with_token("alice", PASSWORD)
    made = new_key(demo, token)

    by_basic = demo.http.get("/demo/internal/status", headers=basic("alice", PASSWORD))
    by_key = demo.http.get("/demo/internal/status", headers={"X-API-Key": made["key"]})
    assert (by_basic.status_code, by_basic.json()["apiKeyId"]) == (200, None)
    assert (by_key.status_code, by_key.json()["apiKeyId"]) == (200, made["id"])

    for headers in ({}, token):
        refused = demo.http.get("/demo/internal/status", headers=headers)
        assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
        assert refused.headers["www-authenticate"] == f"{BASIC}, {APIKEY}"


def test_cli_creates_lists_and_revokes_keys_the_server_honours(
    demo: Demo, accounts: Accounts, cli: Cli, mongo_db: Database[dict[str, Any]]
) -> None:
    accounts.sign_up("alice", PASSWORD)

    code, out, err = cli(
        "apikey", "create", "alice", "--label", "nightly", "--scope", "reports:read"
    )
    assert code == 0, err
    key = out.strip()
    assert KEY.fullmatch(key), out
    key_id = re.search(r"created API key ([0-9a-f]{24}) for 'alice'", err)
    assert key_id is not None, err
    assert key not in err

    allowed = demo.http.get("/demo/reports", headers={"X-API-Key": key})
    assert allowed.status_code == 200
    assert (allowed.json()["username"], allowed.json()["scopes"]) == ("alice", ["reports:read"])

    code, out, err = cli("apikey", "list", "alice")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{key_id[1]}  {key[:11]}...  active  scopes=reports:read")
    assert "label='nightly'" in lines[0]
    assert key not in out

    code, out, err = cli("apikey", "revoke", key_id[1])
    assert (code, out) == (0, f"API key {key_id[1]} revoked\n"), err
    assert demo.http.get("/demo/reports", headers={"X-API-Key": key}).status_code == 401
    code, out, _ = cli("apikey", "revoke", key_id[1])
    assert (code, out) == (0, f"API key {key_id[1]} already revoked\n")
    code, out, _ = cli("apikey", "list", "alice")
    assert " revoked 20" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("apikey", "create", "nobody", "--label", "x"), 1, "authkit: no user named 'nobody'"),
        (
            ("apikey", "create", "alice", "--label", ""),
            1,
            "authkit: label must be longer than or equal to 1 characters",
        ),
        (
            ("apikey", "create", "alice", "--label", "x", "--scope", "has space"),
            1,
            "authkit: each value in scopes must be 1-64 printable ASCII characters without "
            'spaces, quotes (") or backslashes',
        ),
        (("apikey", "list", "nobody"), 1, "authkit: no user named 'nobody'"),
        (
            ("apikey", "revoke", "xyz"),
            1,
            "authkit: 'xyz' is not an API key id (24 hexadecimal digits)",
        ),
        (("apikey", "revoke", "0" * 24), 1, f"authkit: no API key with id {'0' * 24}"),
    ],
    ids=["unknown user", "empty label", "bad scope", "list unknown", "bad id", "unknown id"],
)
def test_cli_errors_are_one_line_and_non_zero(
    demo: Demo, accounts: Accounts, cli: Cli, args: tuple[str, ...], code: int, message: str
) -> None:
    accounts.sign_up("alice", PASSWORD)
    done, out, err = cli(*args)
    assert (done, out, err) == (code, "", message + "\n")


def test_cli_usage_errors_and_an_unreachable_database(cli: Cli) -> None:
    done, out, err = cli("apikey", "create", "alice")
    assert (done, out) == (2, "")
    assert err.splitlines()[-1].endswith("the following arguments are required: --label")

    unreachable = f"mongodb://127.0.0.1:{free_port()}/authkit?serverSelectionTimeoutMS=300"
    done, out, err = cli("apikey", "list", "alice", env={"MONGO_URI": unreachable})
    assert (done, out) == (1, "")
    assert err == "authkit: database error: The user database is unavailable; try again shortly\n"


def test_a_deleted_users_keys_stop_working(demo: Demo, accounts: Accounts, cli: Cli) -> None:
    made = new_key(demo, accounts.user_with_token("alice", PASSWORD))
    key = {"X-API-Key": made["key"]}
    assert demo.http.get("/demo/either", headers=key).status_code == 200

    code, _, err = cli("delete-user", "alice")
    assert code == 0, err
    assert demo.http.get("/demo/either", headers=key).status_code == 401

    accounts.sign_up("alice", PASSWORD)  # the name again: a different user, not the key's owner
    assert demo.http.get("/demo/either", headers=key).status_code == 401
