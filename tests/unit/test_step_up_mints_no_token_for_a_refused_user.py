"""Step-up hands out a new access token (a new `exp`), so it refuses whom a refresh would:
a user an administrator disabled, or whose tokens `signout-all` revoked, cannot keep an
access token alive by stepping up before it expires, even with revocation checks off."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from support.jwt import bearer
from support.settings import SECRET

from authkit.tokens.issuer import TokenIssuer
from unit.test_mfa import code_at, enrol, sign_up_and_in
from unit.test_passkeys_mfa import passkey_step_up, with_passkey


def test_a_disabled_user_cannot_step_up_with_a_code(client: TestClient, db: Any) -> None:
    token = sign_up_and_in(client)
    secret, _ = enrol(client, token)
    db["users"].update_one({"username": "alice"}, {"$set": {"disabled": True}})
    answer = client.post("/auth/step-up", json={"code": code_at(secret, 1)}, headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert "accessToken" not in answer.json()


def test_a_signed_out_everywhere_token_cannot_step_up(client: TestClient) -> None:
    token = sign_up_and_in(client)
    secret, _ = enrol(client, token)
    assert client.post("/auth/signout-all", headers=bearer(token)).status_code in (200, 204)
    answer = client.post("/auth/step-up", json={"code": code_at(secret, 1)}, headers=bearer(token))
    assert answer.status_code == 401, answer.text


def test_a_disabled_user_cannot_step_up_with_a_passkey(client: TestClient, db: Any) -> None:
    authenticator = with_passkey(client, "carol")
    user = db["users"].find_one({"username": "carol"})
    access = TokenIssuer(SECRET, 60).issue(
        user_id=str(user["_id"]), username="carol", claims={"token_version": 0}
    )
    db["users"].update_one({"username": "carol"}, {"$set": {"disabled": True}})
    answer = passkey_step_up(client, bearer(access), authenticator)
    assert answer.status_code == 401, answer.text
