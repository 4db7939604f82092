"""Second factors through the app (TestClient, mongomock): TOTP enrolment, the sign-in
challenge, codes accepted once, throttling, recovery codes, secrets sealed at rest, step-up.

Codes are computed by pyotp from the secret the enrolment showed, as an authenticator app
does; a code for the next 30-second step is a fresh one now (one step of drift is allowed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
import pytest
from starlette.testclient import TestClient
from support.jwt import bearer
from support.settings import SECRET, make_settings

from authkit.mfa.settings import MFASettings
from authkit.passwords.throttle import Limit
from authkit.sessions.settings import SessionSettings
from authkit.tokens.issuer import TokenIssuer

PASSWORD = "Passw0rd!x"
STEP_UP_REQUIRED = {
    "message": "a fresh sign-in is required",
    "error": "step_up_required",
    "statusCode": 401,
}


def code_at(secret: str, steps_ahead: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def sign_up_and_in(client: TestClient, username: str = "alice") -> str:
    assert client.post("/auth/signup", json={"username": username, "password": PASSWORD}).is_success
    signin = client.post("/auth/signin", json={"username": username, "password": PASSWORD})
    assert signin.status_code == 201, signin.text
    token: str = signin.json()["accessToken"]
    return token


def enrol(client: TestClient, token: str) -> tuple[str, list[str]]:
    """Turn TOTP on for the token's user: the secret, and the recovery codes shown."""
    enrolment = client.post("/auth/mfa/totp", headers=bearer(token))
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    confirm = client.post(
        "/auth/mfa/totp/confirm", json={"code": code_at(secret)}, headers=bearer(token)
    )
    assert confirm.status_code == 200, confirm.text
    codes: list[str] = confirm.json()["recovery_codes"]
    return secret, codes


def challenge(client: TestClient, username: str = "alice") -> str:
    signin = client.post("/auth/signin", json={"username": username, "password": PASSWORD})
    assert signin.status_code == 200, signin.text
    body = signin.json()
    assert body["mfa_required"] is True
    assert "accessToken" not in body and "refreshToken" not in body
    token: str = body["mfa_token"]
    return token


@pytest.fixture
def mfa_user(client: TestClient) -> tuple[str, list[str]]:
    return enrol(client, sign_up_and_in(client))


def test_enrolment_shows_the_secret_its_uri_and_a_qr_code(client: TestClient) -> None:
    token = sign_up_and_in(client)
    enrolment = client.post("/auth/mfa/totp", headers=bearer(token))
    body = enrolment.json()
    assert enrolment.headers["cache-control"] == "no-store"
    assert body["otpauth_uri"] == pyotp.TOTP(body["secret"]).provisioning_uri(
        name="alice", issuer_name="authkit"
    )
    assert body["qr_svg"].startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    # Pending until confirmed: signing in still needs the password alone.
    assert (
        client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).status_code
        == 201
    )
    assert client.get("/auth/mfa", headers=bearer(token)).json() == {
        "totp": False,
        "recovery_codes_left": 0,
        "methods": [],
    }


def test_a_wrong_first_code_leaves_totp_off(client: TestClient) -> None:
    token = sign_up_and_in(client)
    secret = client.post("/auth/mfa/totp", headers=bearer(token)).json()["secret"]
    wrong = f"{(int(code_at(secret)) + 1) % 1_000_000:06d}"
    confirm = client.post("/auth/mfa/totp/confirm", json={"code": wrong}, headers=bearer(token))
    assert confirm.status_code == 400
    assert client.get("/auth/mfa", headers=bearer(token)).json()["totp"] is False


def test_sign_in_with_totp_asks_for_the_code_and_then_gives_the_usual_tokens(
    client: TestClient, mfa_user: tuple[str, list[str]]
) -> None:
    secret, codes = mfa_user
    assert len(codes) == len(set(codes)) == 10
    token = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert token.status_code == 200
    body = token.json()
    assert body["methods"] == ["totp", "recovery_code"]
    assert body["expires_in"] == 300
    verify = client.post(
        "/auth/mfa/verify", json={"mfa_token": body["mfa_token"], "code": code_at(secret, 1)}
    )
    assert verify.status_code == 201, verify.text
    assert list(verify.json()) == ["accessToken", "refreshToken"]
    me = client.get("/auth/me", headers=bearer(verify.json()["accessToken"]))
    assert me.json()["username"] == "alice"


def test_a_wrong_password_gets_no_challenge(client: TestClient, mfa_user: Any) -> None:
    signin = client.post("/auth/signin", json={"username": "alice", "password": "wrong-pass1"})
    assert signin.status_code == 401


def test_a_code_is_accepted_once(client: TestClient, mfa_user: tuple[str, list[str]]) -> None:
    secret, _ = mfa_user
    # The code that confirmed the enrolment is used already.
    first = client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge(client), "code": code_at(secret)}
    )
    assert first.status_code == 401
    assert first.json()["message"] == "Invalid code"
    fresh = code_at(secret, 1)
    mfa_token = challenge(client)
    assert (
        client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": fresh}).status_code
        == 201
    )
    replay = client.post("/auth/mfa/verify", json={"mfa_token": challenge(client), "code": fresh})
    assert replay.status_code == 401


def test_a_challenge_is_used_up_by_its_sign_in(
    client: TestClient, mfa_user: tuple[str, list[str]]
) -> None:
    secret, codes = mfa_user
    mfa_token = challenge(client)
    verify = {"mfa_token": mfa_token, "code": code_at(secret, 1)}
    assert client.post("/auth/mfa/verify", json=verify).status_code == 201
    again = client.post(
        "/auth/mfa/verify", json={"mfa_token": mfa_token, "recovery_code": codes[0]}
    )
    assert again.status_code == 401
    assert again.json()["message"] == "Invalid or expired MFA challenge"


def test_a_wrong_code_leaves_the_challenge_usable_until_its_attempts_run_out(
    client: TestClient, mfa_user: tuple[str, list[str]]
) -> None:
    secret, _ = mfa_user
    mfa_token = challenge(client)
    right = code_at(secret, 1)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(4):
        answer = client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": wrong})
        assert answer.status_code == 401
    assert (
        client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": right}).status_code
        == 201
    )
    # A fresh challenge: five wrong codes and even the right one is refused, unjudged.
    mfa_token = challenge(client)
    for _ in range(5):
        assert (
            client.post(
                "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": wrong}
            ).status_code
            == 401
        )
    throttled = client.post(
        "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code_at(secret, -1)}
    )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


def test_failures_count_per_user_across_challenges(
    make_client: Callable[..., TestClient],
) -> None:
    mfa = MFASettings(per_user=Limit(3, 900), per_challenge=Limit(5, 300))
    client = make_client(make_settings(mfa=mfa))
    secret, _ = enrol(client, sign_up_and_in(client))
    wrong = f"{(int(code_at(secret, 1)) + 1) % 1_000_000:06d}"
    for _ in range(3):
        answer = client.post(
            "/auth/mfa/verify", json={"mfa_token": challenge(client), "code": wrong}
        )
        assert answer.status_code == 401
    refused = client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge(client), "code": code_at(secret, 1)}
    )
    assert refused.status_code == 429


def test_a_recovery_code_works_once_and_is_a_security_event(
    client: TestClient, mfa_user: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    _, codes = mfa_user
    with caplog.at_level(logging.INFO, logger="authkit.security"):
        used = client.post(
            "/auth/mfa/verify",
            json={"mfa_token": challenge(client), "recovery_code": codes[3].upper()},
        )
    assert used.status_code == 201
    events = [
        r
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == "mfa_recovery_code_used"
    ]
    assert len(events) == 1 and events[0].levelno == logging.WARNING
    assert events[0].fields["recovery_codes_left"] == 9  # type: ignore[attr-defined]
    assert codes[3] not in caplog.text and codes[3].replace("-", "") not in caplog.text
    again = client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge(client), "recovery_code": codes[3]}
    )
    assert again.status_code == 401
    token = used.json()["accessToken"]
    assert client.get("/auth/mfa", headers=bearer(token)).json() == {
        "totp": True,
        "recovery_codes_left": 9,
        "methods": ["totp", "recovery_code"],
    }


@pytest.mark.parametrize(
    "body",
    [
        {"code": "123456"},
        {"mfa_token": "x" * 43},
        {"mfa_token": "x" * 43, "code": "12345"},
        {"mfa_token": "x" * 43, "code": 123456},
        {"mfa_token": "x" * 43, "code": "123456", "recovery_code": "abcde-fghjk"},
        {"mfa_token": {"$ne": None}, "code": "123456"},
    ],
)
def test_malformed_verify_bodies_are_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/auth/mfa/verify", json=body).status_code == 400


def test_an_unknown_challenge_is_401(client: TestClient) -> None:
    answer = client.post("/auth/mfa/verify", json={"mfa_token": "x" * 43, "code": "123456"})
    assert (answer.status_code, answer.json()["message"]) == (
        401,
        "Invalid or expired MFA challenge",
    )


def test_disabling_totp_takes_a_code_and_the_next_sign_in_needs_a_password_only(
    client: TestClient, mfa_user: tuple[str, list[str]]
) -> None:
    secret, codes = mfa_user
    verify = {"mfa_token": challenge(client), "recovery_code": codes[0]}
    token = client.post("/auth/mfa/verify", json=verify).json()["accessToken"]
    # The code that confirmed the enrolment is no proof any more.
    used = {"code": code_at(secret)}
    assert (
        client.request("DELETE", "/auth/mfa/totp", json=used, headers=bearer(token)).status_code
        == 400
    )
    fresh = {"code": code_at(secret, 1)}
    off = client.request("DELETE", "/auth/mfa/totp", json=fresh, headers=bearer(token))
    assert off.status_code == 204
    assert client.get("/auth/mfa", headers=bearer(token)).json() == {
        "totp": False,
        "recovery_codes_left": 0,
        "methods": [],
    }
    signin = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert (signin.status_code, list(signin.json())) == (201, ["accessToken", "refreshToken"])


def test_openapi_describes_the_challenge_and_every_mfa_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    sign_in = document["paths"]["/auth/signin"]["post"]["responses"]
    assert sign_in["200"]["content"]["application/json"]["schema"]["required"] == [
        "mfa_required",
        "mfa_token",
        "methods",
        "expires_in",
    ]
    assert "201" in sign_in
    for path, method in [
        ("/auth/mfa", "get"),
        ("/auth/mfa/totp", "post"),
        ("/auth/mfa/totp", "delete"),
        ("/auth/mfa/totp/confirm", "post"),
        ("/auth/mfa/recovery-codes", "post"),
        ("/auth/mfa/verify", "post"),
        ("/auth/step-up", "post"),
    ]:
        assert document["paths"][path][method]["operationId"]


# --------------------------------------------------------------------------- step-up


def stale_token(db: Any, username: str = "alice") -> str:
    """An access token for `username` (signed up already) whose sign-in was ten minutes ago."""
    user = db["users"].find_one({"username": username})
    claims = {"token_version": 0, "auth_time": int(time.time()) - 600}
    return TokenIssuer(SECRET, 60).issue(user_id=str(user["_id"]), username=username, claims=claims)


def test_sensitive_changes_need_a_recent_sign_in(client: TestClient, db: Any) -> None:
    sign_up_and_in(client)
    old = stale_token(db)
    for method, path in [
        ("POST", "/auth/mfa/totp"),
        ("DELETE", "/auth/mfa/totp"),
        ("POST", "/auth/mfa/recovery-codes"),
    ]:
        answer = client.request(method, path, json={"code": "123456"}, headers=bearer(old))
        assert (answer.status_code, answer.json()) == (401, STEP_UP_REQUIRED)
    # Reading one's factors needs no step-up.
    assert client.get("/auth/mfa", headers=bearer(old)).status_code == 200


def test_step_up_with_the_password_gives_a_fresh_token(client: TestClient, db: Any) -> None:
    sign_up_and_in(client)
    old = stale_token(db)
    wrong = client.post("/auth/step-up", json={"password": "not-it-1234"}, headers=bearer(old))
    assert wrong.status_code == 401
    stepped = client.post("/auth/step-up", json={"password": PASSWORD}, headers=bearer(old))
    assert stepped.status_code == 200, stepped.text
    fresh = stepped.json()["accessToken"]
    assert client.post("/auth/mfa/totp", headers=bearer(fresh)).status_code == 201


def test_step_up_for_a_totp_user_takes_a_code(
    client: TestClient, db: Any, mfa_user: tuple[str, list[str]]
) -> None:
    secret, _ = mfa_user
    old = stale_token(db)
    by_password = client.post("/auth/step-up", json={"password": PASSWORD}, headers=bearer(old))
    assert by_password.status_code == 400
    used = client.post("/auth/step-up", json={"code": code_at(secret)}, headers=bearer(old))
    assert used.status_code == 401  # it confirmed the enrolment
    stepped = client.post("/auth/step-up", json={"code": code_at(secret, 1)}, headers=bearer(old))
    assert stepped.status_code == 200
    fresh = stepped.json()["accessToken"]
    assert client.post("/auth/mfa/recovery-codes", headers=bearer(old)).status_code == 401
    assert client.post("/auth/mfa/recovery-codes", headers=bearer(fresh)).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(
    client: TestClient, mfa_user: tuple[str, list[str]]
) -> None:
    secret, old_codes = mfa_user
    token = client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge(client), "code": code_at(secret, 1)}
    ).json()["accessToken"]
    fresh = client.post("/auth/mfa/recovery-codes", headers=bearer(token))
    assert fresh.status_code == 200
    new_codes = fresh.json()["recovery_codes"]
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    refused = client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge(client), "recovery_code": old_codes[0]}
    )
    assert refused.status_code == 401
    accepted = client.post(
        "/auth/mfa/verify", json={"mfa_token": challenge(client), "recovery_code": new_codes[0]}
    )
    assert accepted.status_code == 201


def test_auth_time_is_the_sign_in_time_and_a_refresh_keeps_it(client: TestClient) -> None:
    sign_up_and_in(client)
    signin = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()
    issuer = TokenIssuer(SECRET, 60)
    signed_in_at = issuer.verify(signin["accessToken"])["auth_time"]
    assert abs(signed_in_at - time.time()) < 60
    refreshed = client.post("/auth/refresh", json={"refreshToken": signin["refreshToken"]}).json()
    assert issuer.verify(refreshed["accessToken"])["auth_time"] == signed_in_at


def test_one_users_wrong_step_up_codes_do_not_throttle_another(
    make_client: Callable[..., TestClient],
) -> None:
    mfa = MFASettings(per_user=Limit(20, 900), per_challenge=Limit(2, 300))
    client = make_client(make_settings(mfa=mfa))
    alice = sign_up_and_in(client, "alice")
    bob = sign_up_and_in(client, "bobby")
    enrol(client, alice)
    bobs_secret, _ = enrol(client, bob)
    for _ in range(3):
        client.post("/auth/step-up", json={"code": "000000"}, headers=bearer(alice))
    assert (
        client.post("/auth/step-up", json={"code": "000000"}, headers=bearer(alice)).status_code
        == 429
    )
    stepped = client.post(
        "/auth/step-up", json={"code": code_at(bobs_secret, 1)}, headers=bearer(bob)
    )
    assert stepped.status_code == 200


def test_in_cookie_mode_verify_sets_the_refresh_cookie_and_refuses_other_sites(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(
        make_settings(sessions=SessionSettings(refresh_tokens="cookie")),
        base_url="https://testserver",
    )
    secret, _ = enrol(client, sign_up_and_in(client))
    verify = {"mfa_token": challenge(client), "code": code_at(secret, 1)}
    foreign = client.post(
        "/auth/mfa/verify", json=verify, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    signed_in = client.post("/auth/mfa/verify", json=verify)
    assert signed_in.status_code == 201
    assert list(signed_in.json()) == ["accessToken"]
    assert "authkit_refresh=" in signed_in.headers["set-cookie"]


def test_of_two_verifies_at_once_with_right_codes_one_signs_in(
    client: TestClient, mfa_user: tuple[str, list[str]]
) -> None:
    _, codes = mfa_user
    mfa_token = challenge(client)
    barrier = threading.Barrier(2)

    def verify(code: str) -> int:
        barrier.wait(timeout=10)
        body = {"mfa_token": mfa_token, "recovery_code": code}
        return client.post("/auth/mfa/verify", json=body).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(verify, codes[:2]))
    assert statuses == [201, 401]


def test_a_user_deleted_between_the_password_and_the_code_gets_no_tokens(
    client: TestClient, db: Any, mfa_user: tuple[str, list[str]]
) -> None:
    secret, _ = mfa_user
    token = challenge(client)
    db["users"].delete_one({"username": "alice"})  # deleted meanwhile, by an admin or a script
    verify = client.post("/auth/mfa/verify", json={"mfa_token": token, "code": code_at(secret, 1)})
    assert verify.status_code == 401, verify.text
    assert "accessToken" not in verify.json()
