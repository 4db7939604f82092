"""A passkey as a second factor (TestClient, mongomock, the software authenticator): after a
right password a user with a passkey gets authkit.mfa's challenge, and that challenge's
`mfa_token` with an answer from one of the user's own passkeys completes the sign-in.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient
from support.jwt import bearer
from support.settings import SECRET
from support.webauthn_authenticator import SoftAuthenticator, b64url

from authkit.tokens.issuer import TokenIssuer
from unit.test_passkeys import PASSWORD, register, sign_up_and_in


def password_signin(client: TestClient, username: str) -> Any:
    return client.post("/auth/signin", json={"username": username, "password": PASSWORD})


def with_passkey(client: TestClient, username: str) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    assert register(client, sign_up_and_in(client, username), authenticator).status_code == 201
    return authenticator


def second_factor(
    client: TestClient, mfa_token: str, authenticator: SoftAuthenticator, **how: Any
) -> Any:
    options = client.post("/auth/passkeys/signin/options", json={"mfa_token": mfa_token})
    assert options.status_code == 200, options.text
    body = options.json()
    credential = authenticator.get(body["options"], **how)
    return client.post(
        "/auth/passkeys/signin",
        json={
            "mfa_token": mfa_token,
            "challenge_id": body["challenge_id"],
            "credential": credential,
        },
    )


def test_a_password_alone_no_longer_signs_in_a_user_with_a_passkey(client: TestClient) -> None:
    with_passkey(client, "alice")
    answer = password_signin(client, "alice")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["mfa_required"], body["methods"]) == (True, ["passkey"])
    assert "accessToken" not in body


def test_the_passkey_completes_the_sign_in_once(client: TestClient) -> None:
    authenticator = with_passkey(client, "alice")
    mfa_token = password_signin(client, "alice").json()["mfa_token"]
    options = client.post("/auth/passkeys/signin/options", json={"mfa_token": mfa_token}).json()
    allowed = [c["id"] for c in options["options"]["allowCredentials"]]
    assert allowed == [b64url(authenticator.credential_id)]
    credential = authenticator.get(options["options"])
    answer = client.post(
        "/auth/passkeys/signin",
        json={
            "mfa_token": mfa_token,
            "challenge_id": options["challenge_id"],
            "credential": credential,
        },
    )
    assert answer.status_code == 201, answer.text
    me = client.get("/auth/me", headers=bearer(answer.json()["accessToken"]))
    assert me.json()["username"] == "alice"
    # The password step is used up: neither another passkey answer nor new options get in.
    assert second_factor_options_status(client, mfa_token) == 401


def second_factor_options_status(client: TestClient, mfa_token: str) -> int:
    return client.post("/auth/passkeys/signin/options", json={"mfa_token": mfa_token}).status_code


def test_another_users_passkey_does_not_complete_the_sign_in(client: TestClient) -> None:
    mine = with_passkey(client, "alice")
    theirs = with_passkey(client, "bobby")
    mfa_token = password_signin(client, "alice").json()["mfa_token"]
    assert second_factor(client, mfa_token, theirs).status_code == 401
    # A wrong answer leaves the password step usable.
    assert second_factor(client, mfa_token, mine).status_code == 201


def test_a_refused_answer_leaves_the_mfa_token_usable(client: TestClient) -> None:
    authenticator = with_passkey(client, "alice")
    mfa_token = password_signin(client, "alice").json()["mfa_token"]
    assert (
        second_factor(client, mfa_token, authenticator, origin="https://evil.example").status_code
        == 401
    )
    assert second_factor(client, mfa_token, authenticator).status_code == 201


def test_an_unknown_mfa_token_gets_no_options(client: TestClient) -> None:
    with_passkey(client, "alice")
    assert second_factor_options_status(client, "x" * 43) == 401


def test_a_passwordless_challenge_does_not_complete_a_password_sign_in(client: TestClient) -> None:
    authenticator = with_passkey(client, "alice")
    mfa_token = password_signin(client, "alice").json()["mfa_token"]
    options = client.post("/auth/passkeys/signin/options", json={}).json()
    answer = client.post(
        "/auth/passkeys/signin",
        json={
            "mfa_token": mfa_token,
            "challenge_id": options["challenge_id"],
            "credential": authenticator.get(options["options"]),
        },
    )
    assert answer.status_code == 401


def test_the_passkey_alone_still_signs_in_a_user_with_mfa(client: TestClient) -> None:
    # A passkey with user verification is two factors in one: something held, and a PIN or
    # a fingerprint the authenticator checked.
    authenticator = with_passkey(client, "alice")
    options = client.post("/auth/passkeys/signin/options", json={}).json()
    answer = client.post(
        "/auth/passkeys/signin",
        json={
            "challenge_id": options["challenge_id"],
            "credential": authenticator.get(options["options"]),
        },
    )
    assert answer.status_code == 201


def test_deleting_a_passkey_needs_a_recent_sign_in(client: TestClient, db: Any) -> None:
    with_passkey(client, "alice")
    user = db["users"].find_one({"username": "alice"})
    claims = {"token_version": 0, "auth_time": int(time.time()) - 600}
    old = TokenIssuer(SECRET, 60).issue(user_id=str(user["_id"]), username="alice", claims=claims)
    passkey_id = client.get("/auth/passkeys", headers=bearer(old)).json()["passkeys"][0]["id"]
    answer = client.delete(f"/auth/passkeys/{passkey_id}", headers=bearer(old))
    assert (answer.status_code, answer.json()["error"]) == (401, "step_up_required")
    # Renaming is no security change: no step-up.
    renamed = client.patch(f"/auth/passkeys/{passkey_id}", headers=bearer(old), json={"name": "x"})
    assert renamed.status_code == 200
    assert len(client.get("/auth/passkeys", headers=bearer(old)).json()["passkeys"]) == 1


def test_with_its_last_passkey_gone_a_user_signs_in_with_the_password_again(
    client: TestClient,
) -> None:
    authenticator = with_passkey(client, "alice")
    mfa_token = password_signin(client, "alice").json()["mfa_token"]
    fresh = bearer(second_factor(client, mfa_token, authenticator).json()["accessToken"])
    passkey_id = client.get("/auth/passkeys", headers=fresh).json()["passkeys"][0]["id"]
    assert client.delete(f"/auth/passkeys/{passkey_id}", headers=fresh).status_code == 204
    assert password_signin(client, "alice").status_code == 201


def stale_token(db: Any, username: str) -> dict[str, str]:
    """A bearer for `username` whose sign-in was ten minutes ago."""
    user = db["users"].find_one({"username": username})
    claims = {"token_version": 0, "auth_time": int(time.time()) - 600}
    return bearer(
        TokenIssuer(SECRET, 60).issue(user_id=str(user["_id"]), username=username, claims=claims)
    )


def passkey_step_up(
    client: TestClient, token: dict[str, str], authenticator: SoftAuthenticator, **how: Any
) -> Any:
    options = client.post("/auth/passkeys/step-up/options", headers=token)
    assert options.status_code == 200, options.text
    body = options.json()
    credential = authenticator.get(body["options"], **how)
    return client.post(
        "/auth/passkeys/step-up",
        headers=token,
        json={"challenge_id": body["challenge_id"], "credential": credential},
    )


def test_a_passkey_steps_up_an_old_sign_in(client: TestClient, db: Any) -> None:
    authenticator = with_passkey(client, "alice")
    old = stale_token(db, "alice")
    answer = passkey_step_up(client, old, authenticator)
    assert answer.status_code == 200, answer.text
    fresh = bearer(answer.json()["accessToken"])
    passkey_id = client.get("/auth/passkeys", headers=fresh).json()["passkeys"][0]["id"]
    assert client.delete(f"/auth/passkeys/{passkey_id}", headers=fresh).status_code == 204


def test_another_users_passkey_does_not_step_up(client: TestClient, db: Any) -> None:
    with_passkey(client, "alice")
    theirs = with_passkey(client, "bobby")
    assert passkey_step_up(client, stale_token(db, "alice"), theirs).status_code == 401


def test_a_step_up_challenge_is_the_callers_and_used_once(client: TestClient, db: Any) -> None:
    authenticator = with_passkey(client, "alice")
    with_passkey(client, "bobby")
    alice, bob = stale_token(db, "alice"), stale_token(db, "bobby")
    body = client.post("/auth/passkeys/step-up/options", headers=alice).json()
    answer = {
        "challenge_id": body["challenge_id"],
        "credential": authenticator.get(body["options"]),
    }
    # Bob cannot spend Alice's challenge, nor does a sign-in accept it.
    assert client.post("/auth/passkeys/step-up", headers=bob, json=answer).status_code == 401
    assert client.post("/auth/passkeys/signin", json=answer).status_code == 401
    answer["credential"] = authenticator.get(body["options"])
    assert client.post("/auth/passkeys/step-up", headers=alice, json=answer).status_code == 200
    answer["credential"] = authenticator.get(body["options"])
    assert client.post("/auth/passkeys/step-up", headers=alice, json=answer).status_code == 401


def test_step_up_options_need_a_passkey(client: TestClient) -> None:
    token = sign_up_and_in(client, "carol")
    assert client.post("/auth/passkeys/step-up/options", headers=token).status_code == 404
    assert client.post("/auth/passkeys/step-up/options").status_code == 401


def test_the_password_does_not_step_up_a_user_with_a_passkey(client: TestClient, db: Any) -> None:
    authenticator = with_passkey(client, "alice")
    old = stale_token(db, "alice")
    answer = client.post("/auth/step-up", headers=old, json={"password": PASSWORD})
    assert answer.status_code == 400
    assert "second factor" in answer.json()["message"][0]
    assert passkey_step_up(client, old, authenticator).status_code == 200


def test_the_password_steps_up_a_user_without_a_factor(client: TestClient, db: Any) -> None:
    sign_up_and_in(client, "carol")
    answer = client.post(
        "/auth/step-up", headers=stale_token(db, "carol"), json={"password": PASSWORD}
    )
    assert answer.status_code == 200


def test_recovery_codes_go_with_the_last_passkey(client: TestClient) -> None:
    authenticator = with_passkey(client, "alice")
    mfa_token = password_signin(client, "alice").json()["mfa_token"]
    fresh = bearer(second_factor(client, mfa_token, authenticator).json()["accessToken"])
    codes = client.post("/auth/mfa/recovery-codes", headers=fresh)
    assert (codes.status_code, len(codes.json()["recovery_codes"])) == (200, 10)
    assert client.get("/auth/mfa", headers=fresh).json()["methods"] == ["passkey", "recovery_code"]
    passkey_id = client.get("/auth/passkeys", headers=fresh).json()["passkeys"][0]["id"]
    assert client.delete(f"/auth/passkeys/{passkey_id}", headers=fresh).status_code == 204
    status = client.get("/auth/mfa", headers=fresh).json()
    assert (status["recovery_codes_left"], status["methods"]) == (0, [])
