"""A second factor over real HTTP: `uvicorn authkit.asgi:app` on a real database.

Enrol TOTP, confirm it with a code computed from the secret the server showed (as an
authenticator app would), sign out, sign in again: the password alone gives a challenge,
the challenge and a fresh code give the usual tokens, and those reach /auth/me.

The rules one by one (replay, throttling, sealing, expiry, step-up): tests/unit/test_mfa.py
and tests/unit/test_mfa_factors.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from pymongo.database import Database
from support.jwt import bearer
from support.processes import AppProcess

pytestmark = pytest.mark.e2e

PASSWORD = "Passw0rd!x"


@pytest.fixture
def http(app_server: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_server.base_url, timeout=15) as client:
        yield client


def test_enrol_sign_out_and_sign_in_with_a_code(
    http: httpx.Client, mongo_db: Database[dict[str, Any]]
) -> None:
    credentials = {"username": "alice", "password": PASSWORD}
    assert http.post("/auth/signup", json=credentials).status_code == 201
    first = http.post("/auth/signin", json=credentials)
    assert first.status_code == 201
    token = first.json()["accessToken"]

    enrolment = http.post("/auth/mfa/totp", headers=bearer(token))
    assert enrolment.status_code == 201, enrolment.text
    app = pyotp.TOTP(enrolment.json()["secret"])
    confirm = http.post("/auth/mfa/totp/confirm", json={"code": app.now()}, headers=bearer(token))
    assert confirm.status_code == 200, confirm.text
    assert len(confirm.json()["recovery_codes"]) == 10
    stored = mongo_db["mfa_factors"].find_one()
    assert stored is not None and enrolment.json()["secret"] not in repr(stored)

    signout = http.post(
        "/auth/signout",
        json={"refreshToken": first.json()["refreshToken"]},
        headers=bearer(token),
    )
    assert signout.status_code == 204

    challenge = http.post("/auth/signin", json=credentials)
    assert challenge.status_code == 200
    body = challenge.json()
    assert (body["mfa_required"], body["methods"]) == (True, ["totp", "recovery_code"])
    assert "accessToken" not in body

    # The confirming code is spent; the next step's is the one a phone shows in a moment.
    verify = http.post(
        "/auth/mfa/verify",
        json={"mfa_token": body["mfa_token"], "code": app.at(time.time() + 30)},
    )
    assert verify.status_code == 201, verify.text
    assert list(verify.json()) == ["accessToken", "refreshToken"]
    me = http.get("/auth/me", headers=bearer(verify.json()["accessToken"]))
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
