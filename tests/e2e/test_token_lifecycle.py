"""The token lifecycle through real `uvicorn authkit.asgi:app` processes on a real database.

Two servers for the module (started once; every test uses its own usernames):

- `hs256`: the default signing (JWT_SECRET), refresh tokens in the body, revocation
  checks on, two worker processes. The concurrent-refresh race runs here: 24 clients
  trade one refresh token at the same instant, and exactly one gets a new pair.
- `managed`: an ES256 key set in which an RS256 key is still in its overlap after a
  rotation and an EdDSA key has retired; refresh tokens in a cookie; iss and aud set.
  PyJWT checks its tokens against the JWKS it serves, and it refuses key confusion.

The same behaviour on mongomock and an injected clock: tests/unit/test_lifecycle.py,
tests/unit/test_token_routes.py, tests/unit/test_keys.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from support.jwt import bearer, hmac_jwt, node_style_token
from support.processes import UVICORN_ARGS, AppProcess, Launcher, eventually, with_database

from authkit.tokens.issuer import TokenIssuer
from authkit.tokens.keys import KeyRing, ManagedKey, SigningKeys

pytestmark = pytest.mark.e2e

PASSWORD = "Passw0rd!x"
BAD_REFRESH = {
    "message": "Invalid or expired refresh token",
    "error": "Unauthorized",
    "statusCode": 401,
}


@contextlib.contextmanager
def server(env: dict[str, str], workdir: Path, workers: int = 1) -> Iterator[AppProcess]:
    # Module-scoped (one per module, shared by its tests): the `launch` fixture is per test.
    with Launcher(workdir) as launch:
        yield launch([*UVICORN_ARGS, "--workers", str(workers)], env)


@pytest.fixture(scope="module")
def database_uri(mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]) -> Iterator[str]:
    name = f"authkit_test_{uuid.uuid4().hex[:16]}"
    yield with_database(mongo_uri, name)
    with contextlib.suppress(PyMongoError):
        mongo_client.drop_database(name)


@pytest.fixture(scope="module")
def hs256(
    database_uri: str, jwt_secret: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    env = {
        "MONGO_URI": database_uri,
        "JWT_SECRET": jwt_secret,
        "BCRYPT_ROUNDS": "4",
        "AUTHKIT_REVOCATION_CHECKS": "true",
        "AUTHKIT_LOG_LEVEL": "warning",
    }
    # Two worker processes: the race below is decided by the database, not by one process.
    with server(env, tmp_path_factory.mktemp("hs256"), workers=2) as process:
        yield process


@attrs.frozen
class KeyFiles:
    path: Path
    overlapping: ManagedKey  # RS256, rotated out, still verifying for an hour
    retired: ManagedKey  # EdDSA, past its retirement
    signing: ManagedKey  # ES256


@pytest.fixture(scope="module")
def key_files(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    now = time.time()
    retired = attrs.evolve(ManagedKey.new("EdDSA", now - 7200), retires_at=int(now) - 60)
    overlapping = attrs.evolve(ManagedKey.new("RS256", now - 3600), retires_at=int(now) + 3600)
    signing = ManagedKey.new("ES256", now - 60)
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    SigningKeys((retired, overlapping, signing)).write(path, replace=False)
    return KeyFiles(path, overlapping, retired, signing)


@pytest.fixture(scope="module")
def managed(
    database_uri: str, key_files: KeyFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppProcess]:
    env = {
        "MONGO_URI": database_uri,
        "AUTHKIT_JWT_KEYS": str(key_files.path),
        "AUTHKIT_JWT_ISSUER": "https://auth.test",
        "AUTHKIT_JWT_AUDIENCE": "orders-api",
        "AUTHKIT_REFRESH_TOKENS": "cookie",
        "BCRYPT_ROUNDS": "4",
        "AUTHKIT_LOG_LEVEL": "warning",
    }
    with server(env, tmp_path_factory.mktemp("managed")) as process:
        yield process


def fresh_user() -> str:
    return "u" + uuid.uuid4().hex[:12]


def sign_up_and_in(http: httpx.Client, username: str, agent: str = "pytest") -> httpx.Response:
    credentials = {"username": username, "password": PASSWORD}
    assert http.post("/auth/signup", json=credentials).status_code == 201
    signin = http.post("/auth/signin", json=credentials, headers={"User-Agent": agent})
    assert signin.status_code == 201, signin.text
    return signin


# ---------------------------------------------------------------- HS256, body, checks on


def test_concurrent_refreshes_with_one_token_exactly_one_wins(hs256: AppProcess) -> None:
    with httpx.Client(base_url=hs256.base_url, timeout=30) as http:
        pair = sign_up_and_in(http, fresh_user()).json()
    attempts = 24
    barrier = threading.Barrier(attempts)

    def refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=hs256.base_url, timeout=30) as http:
            barrier.wait(timeout=30)
            return http.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        responses = list(pool.map(refresh, range(attempts)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (attempts - 1), statuses
    for response in responses:
        if response.status_code == 401:
            assert response.json() == BAD_REFRESH
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    # The losers came within the reuse grace of the winner's use: a client racing itself,
    # not a replay, so the session lives on and the winner's new pair works.
    with httpx.Client(base_url=hs256.base_url, timeout=30) as http:
        assert http.get("/auth/me", headers=bearer(winner["accessToken"])).status_code == 200
        again = http.post("/auth/refresh", json={"refreshToken": winner["refreshToken"]})
        assert again.status_code == 200, again.text
    assert "Traceback" not in hs256.stderr()


def test_sign_in_refresh_sessions_sign_out_over_http(hs256: AppProcess) -> None:
    username = fresh_user()
    with httpx.Client(base_url=hs256.base_url, timeout=15) as http:
        laptop = sign_up_and_in(http, username, agent="Firefox/130").json()
        phone = http.post(
            "/auth/signin",
            data={"username": username, "password": PASSWORD},
            headers={"User-Agent": "Phone/1"},
        ).json()

        refreshed = http.post("/auth/refresh", data={"refreshToken": laptop["refreshToken"]})
        assert refreshed.status_code == 200, refreshed.text
        laptop = refreshed.json()
        me = http.get("/auth/me", headers=bearer(laptop["accessToken"]))
        assert me.json()["username"] == username

        sessions = http.get("/auth/sessions", headers=bearer(laptop["accessToken"])).json()
        agents = {s["userAgent"]: s for s in sessions["sessions"]}
        assert set(agents) == {"Firefox/130", "Phone/1"}
        assert agents["Firefox/130"]["current"] and not agents["Phone/1"]["current"]

        phone_id = agents["Phone/1"]["id"]
        revoked = http.delete(f"/auth/sessions/{phone_id}", headers=bearer(laptop["accessToken"]))
        assert revoked.status_code == 204
        assert http.get("/auth/me", headers=bearer(phone["accessToken"])).status_code == 401
        assert http.post("/auth/refresh", json={"refreshToken": phone["refreshToken"]}).json() == (
            BAD_REFRESH
        )

        out = http.post(
            "/auth/signout",
            json={"refreshToken": laptop["refreshToken"]},
            headers=bearer(laptop["accessToken"]),
        )
        assert out.status_code == 204
        # Revocation checks are on: the access token stops now, not at its exp.
        assert http.get("/auth/me", headers=bearer(laptop["accessToken"])).status_code == 401
        gone = http.post("/auth/refresh", json={"refreshToken": laptop["refreshToken"]})
        assert gone.status_code == 401


def test_sign_out_all_stops_every_session_and_access_token(
    hs256: AppProcess, jwt_secret: str
) -> None:
    username = fresh_user()
    with httpx.Client(base_url=hs256.base_url, timeout=15) as http:
        first = sign_up_and_in(http, username).json()
        second = http.post("/auth/signin", json={"username": username, "password": PASSWORD})
        user_id = http.get("/auth/me", headers=bearer(first["accessToken"])).json()["_id"]
        # A token laid out as the NestJS app writes it (no jti, no token_version) is
        # accepted with checks on, until sign-out-all raises the user's version.
        now = int(time.time())
        claims = {"username": username, "sub": user_id, "iat": now, "exp": now + 60}
        node = node_style_token(claims, jwt_secret)
        assert http.get("/auth/me", headers=bearer(node)).status_code == 200

        assert (
            http.post("/auth/signout-all", headers=bearer(first["accessToken"])).status_code == 204
        )

        for token in (first["accessToken"], second.json()["accessToken"], node):
            assert http.get("/auth/me", headers=bearer(token)).status_code == 401
        for pair in (first, second.json()):
            refresh = http.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
            assert refresh.status_code == 401
        again = http.post("/auth/signin", json={"username": username, "password": PASSWORD})
        assert http.get("/auth/me", headers=bearer(again.json()["accessToken"])).status_code == 200
        assert http.get("/.well-known/jwks.json").json() == {"keys": []}


# ---------------------------------------------------------------- managed keys, cookie


def test_jwks_verifies_with_pyjwt_and_overlapping_keys_still_verify(
    managed: AppProcess, key_files: KeyFiles, tmp_path: Path
) -> None:
    username = fresh_user()
    with httpx.Client(base_url=managed.base_url, timeout=15) as http:
        signin = sign_up_and_in(http, username)
        token = signin.json()["accessToken"]
        assert list(signin.json()) == ["accessToken"]  # the refresh token is in the cookie
        jwks = http.get("/.well-known/jwks.json")

        assert jwks.headers["cache-control"] == "public, max-age=300"
        published = {k["kid"]: k for k in jwks.json()["keys"]}
        assert set(published) == {key_files.signing.kid, key_files.overlapping.kid}
        assert all("d" not in k for k in published.values())
        header = pyjwt.get_unverified_header(token)
        assert (header["alg"], header["kid"]) == ("ES256", key_files.signing.kid)
        key = pyjwt.PyJWKSet.from_dict(jwks.json())[header["kid"]]
        claims = pyjwt.decode(
            token, key, algorithms=["ES256"], audience="orders-api", issuer="https://auth.test"
        )
        assert claims["username"] == username

        def signed_by(key: ManagedKey, name: str) -> str:
            path = tmp_path / f"{name}.json"
            SigningKeys((attrs.evolve(key, retires_at=None),)).write(path, replace=False)
            issuer = TokenIssuer(
                keys=KeyRing(path), issuer="https://auth.test", audience="orders-api"
            )
            return issuer.issue(user_id=claims["sub"], username=username)

        # Signed before the rotation by the RS256 key, which is in its overlap: accepted.
        old = http.get("/auth/me", headers=bearer(signed_by(key_files.overlapping, "old")))
        assert old.status_code == 200, old.text
        # Signed by the key whose overlap ended: refused, though the signature is good.
        retired = http.get("/auth/me", headers=bearer(signed_by(key_files.retired, "retired")))
        assert retired.status_code == 401


def test_key_confusion_is_refused_over_http(managed: AppProcess, key_files: KeyFiles) -> None:
    with httpx.Client(base_url=managed.base_url, timeout=15) as http:
        token = sign_up_and_in(http, fresh_user()).json()["accessToken"]
        claims = pyjwt.decode(token, options={"verify_signature": False})
        public_pem = key_files.overlapping.key.raw_value.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for kid in (key_files.overlapping.kid, key_files.signing.kid, None):
            header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
            forged = hmac_jwt(header, claims, public_pem)
            response = http.get("/auth/me", headers=bearer(forged))
            assert response.status_code == 401, kid
        # Right key, wrong audience: refused.
        stripped = {**claims, "aud": "billing-api"}
        forged = hmac_jwt({"alg": "HS256", "typ": "JWT"}, stripped, b"anything")
        assert http.get("/auth/me", headers=bearer(forged)).status_code == 401


def test_cookie_refresh_over_http(managed: AppProcess) -> None:
    with httpx.Client(base_url=managed.base_url, timeout=15) as http:
        signin = sign_up_and_in(http, fresh_user())
        set_cookie = signin.headers["set-cookie"]
        for attribute in ("HttpOnly", "Secure", "Path=/auth", "SameSite=strict"):
            assert attribute in set_cookie, set_cookie
        value = set_cookie.split(";", 1)[0].split("=", 1)[1]

        refreshed = http.post("/auth/refresh", headers={"Cookie": f"authkit_refresh={value}"})
        assert refreshed.status_code == 200, refreshed.text
        assert list(refreshed.json()) == ["accessToken"]
        assert "authkit_refresh=" in refreshed.headers["set-cookie"]
        reused = http.post("/auth/refresh", headers={"Cookie": f"authkit_refresh={value}"})
        assert (reused.status_code, reused.json()) == (401, BAD_REFRESH)


# ---------------------------------------------------------------- live rotation with the CLI


def kid_of(token: str) -> str:
    kid: str = pyjwt.get_unverified_header(token)["kid"]
    return kid


def follows(check: Callable[[], bool], what: str) -> None:
    # Servers re-read the key file every few seconds: a rotation shows within seconds.
    eventually(check, timeout=20, interval=0.5, what=f"not {what}")


@pytest.mark.processes
def test_a_running_server_follows_authkit_keys_rotate(
    database_uri: str, tmp_path: Path, run_to_exit: Any
) -> None:
    """`authkit keys rotate` on the file a live server reads: the new key is published, then
    signs, and old tokens keep working through the overlap; `--overlap 0` (a leaked key)
    shuts every older key out within seconds, without a restart."""
    keys = tmp_path / "keys.json"
    env = {"AUTHKIT_JWT_KEYS": str(keys)}
    code, err = run_to_exit(["-m", "authkit", "keys", "generate"], env, tmp_path)
    assert code == 0, err
    server_env = {
        **env,
        "MONGO_URI": database_uri,
        "BCRYPT_ROUNDS": "4",
        "AUTHKIT_LOG_LEVEL": "warning",
    }
    with (
        server(server_env, tmp_path) as live,
        httpx.Client(base_url=live.base_url, timeout=15) as http,
    ):
        username = fresh_user()
        first = sign_up_and_in(http, username).json()["accessToken"]
        credentials = {"username": username, "password": PASSWORD}

        def published() -> set[str]:
            return {k["kid"] for k in http.get("/.well-known/jwks.json").json()["keys"]}

        def signin_kid() -> str:
            return kid_of(http.post("/auth/signin", json=credentials).json()["accessToken"])

        def me(token: str) -> int:
            return http.get("/auth/me", headers=bearer(token)).status_code

        def rotate(overlap: str) -> None:
            args = ["-m", "authkit", "keys", "rotate", "--overlap", overlap]
            code, err = run_to_exit(args, env, tmp_path)
            assert code == 0, err

        rotate("1h")
        second_kid = SigningKeys.read(keys).newest().kid
        follows(lambda: published() == {kid_of(first), second_kid}, "publishing both keys")
        follows(lambda: signin_kid() == second_kid, "signing with the new key")
        assert me(first) == 200  # in its overlap

        rotate("0")
        third_kid = SigningKeys.read(keys).newest().kid
        follows(lambda: me(first) == 401, "refusing the first key's token")
        assert published() == {third_kid}
        assert signin_kid() == third_kid
        latest = http.post("/auth/signin", json=credentials).json()["accessToken"]
        assert me(latest) == 200
