"""A stolen access token, once its sign-in is old, adds no new way into the account: a
passkey registered or a provider identity linked is a sign-in of its own (a passkey alone
passes the second-factor gate and steps up), so both ask for a recent sign-in, as setting
an email address and enrolling TOTP already do.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.testclient import TestClient
from support.jwt import bearer
from support.settings import SECRET
from support.webauthn_authenticator import SoftAuthenticator

from authkit.tokens.issuer import TokenIssuer
from unit.test_passkeys import register, sign_up_and_in
from unit.test_social import TARGET, World, _local_user, _password_sign_in


def stale(db: Any, username: str) -> dict[str, str]:
    """A bearer for `username` whose sign-in was ten minutes ago."""
    user = db["users"].find_one({"username": username})
    claims = {"token_version": 0, "auth_time": int(time.time()) - 600}
    token = TokenIssuer(SECRET, 60).issue(
        user_id=str(user["_id"]), username=username, claims=claims
    )
    return bearer(token)


def test_an_old_sign_in_cannot_register_a_passkey(client: TestClient, db: Any) -> None:
    fresh = sign_up_and_in(client, "alice")
    old = stale(db, "alice")
    refused = client.post("/auth/passkeys/register/options", headers=old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "step_up_required"
    assert register(client, fresh, SoftAuthenticator()).status_code == 201


def test_an_old_sign_in_cannot_link_a_provider_identity() -> None:
    world = World()
    _local_user(world, "alice")
    browser = world.browser()
    _password_sign_in(world, browser, "alice")
    refused = browser.post(
        "/auth/oauth/github/link", json={"redirect_to": TARGET}, headers=stale(world.db, "alice")
    )
    assert refused.status_code == 401
    assert refused.json()["error"] == "step_up_required"
    assert world.db["oauth_flows"].count_documents({}) == 0
