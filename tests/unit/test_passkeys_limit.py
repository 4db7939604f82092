"""The per-address limit on passkey sign-in options (AUTHKIT_PASSKEY_STARTS_PER_ADDRESS):
anyone may ask for options, and each answer stores a challenge for five minutes, so one
client address may have only so many stored at once. The ceremonies themselves:
tests/unit/test_passkeys.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.settings import make_settings
from support.webauthn_authenticator import SoftAuthenticator

from authkit.passkeys.settings import PasskeySettings

LIMIT = 3
HERE, ELSEWHERE = ("203.0.113.9", 50000), ("198.51.100.7", 50000)
PASSWORD = "passkey-pass-1"


def options(client: TestClient, body: dict[str, Any] | None = None) -> Any:
    return client.post("/auth/passkeys/signin/options", json=body or {})


@pytest.fixture
def limited(make_client: Callable[..., TestClient]) -> Callable[..., TestClient]:
    settings = make_settings(passkeys=PasskeySettings(starts_per_address=LIMIT))
    return lambda address=HERE: make_client(settings, client=address)


def test_past_the_limit_options_are_a_429_with_retry_after(
    limited: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = limited()
    assert [options(client).status_code for _ in range(LIMIT)] == [200] * LIMIT
    with caplog.at_level(logging.INFO, logger="authkit.security"):
        refused = options(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "300"  # by then every stored challenge is gone
    assert refused.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Too many passkey sign-ins started from this address; try again in 300 seconds",
    }
    reasons = [getattr(r, "fields", {}).get("reason") for r in caplog.records]
    assert "too_many_challenges" in reasons
    # Refused before the token is looked at: the second-factor options count the same.
    assert options(client, {"mfa_token": "x" * 40}).status_code == 429
    assert options(limited(ELSEWHERE)).status_code == 200  # another address has its own


def test_expired_challenges_make_room_and_used_ones_do_not(
    limited: Callable[..., TestClient], db: Any
) -> None:
    client = limited()
    account = {"username": "limited-user", "password": PASSWORD}
    assert client.post("/auth/signup", json=account).status_code == 201
    signin = client.post("/auth/signin", json=account)
    bearer = {"Authorization": f"Bearer {signin.json()['accessToken']}"}
    authenticator = SoftAuthenticator()
    creation = client.post("/auth/passkeys/register/options", headers=bearer).json()
    credential = authenticator.create(creation)
    registered = client.post(
        "/auth/passkeys/register", headers=bearer, json={"credential": credential}
    )
    assert registered.status_code == 201
    # Registration is signed in and not counted: all LIMIT are left for sign-ins.
    for _ in range(LIMIT):
        issued = options(client).json()
        answer = {
            "challenge_id": issued["challenge_id"],
            "credential": authenticator.get(issued["options"]),
        }
        assert client.post("/auth/passkeys/signin", json=answer).status_code == 201
    # A used challenge stays stored until it expires, so it still counts.
    assert options(client).status_code == 429
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    db["webauthn_challenges"].update_one({"address": HERE[0]}, {"$set": {"expires_at": past}})
    assert options(client).status_code == 200
    assert options(client).status_code == 429


def test_zero_is_no_limit(make_client: Callable[..., TestClient]) -> None:
    settings = make_settings(passkeys=PasskeySettings(starts_per_address=0))
    client = make_client(settings, client=HERE)
    assert {options(client).status_code for _ in range(LIMIT * 2)} == {200}
