"""Roles in authkit's own tokens, and disabled users, through the whole app (TestClient on
mongomock): a guard with scopes passes a token authkit signed, a change of roles arrives at
the next refresh (at once with revocation checks), a disabled user can neither sign in nor
refresh, and a user who never had roles gets the seed's token and bodies.

The same through uvicorn and a real database: tests/e2e/test_admin.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support.jwt import bearer, payload_of
from support.settings import SECRET, make_settings

from authkit import create_app, guard
from authkit.admin.service import Administration, UserDirectory
from authkit.core.errors import InvalidRefreshToken
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.throttle import SigninThrottle
from authkit.sessions.lifecycle import TokenLifecycle, TokenPair
from authkit.sessions.revocation import MongoDenylist
from authkit.sessions.store import MongoSessionStore
from authkit.settings.model import SessionSettings
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore

PASSWORD = "Passw0rd!x"


@guard("jwt", scopes=["editor"])
async def edit(request: Request) -> JSONResponse:
    return JSONResponse({"editing": request.user.username})


def _client(make: Callable[..., Any], db: Any, **sessions: Any) -> Any:
    settings = make_settings(sessions=SessionSettings(**sessions))
    return make(create_app(settings, database=db, routes=[Route("/edit", edit)]))


def _signup_and_signin(client: Any, name: str) -> dict[str, str]:
    assert client.post("/auth/signup", json={"username": name, "password": PASSWORD}).status_code
    response = client.post("/auth/signin", json={"username": name, "password": PASSWORD})
    assert response.status_code == 201, response.text
    pair: dict[str, str] = response.json()
    return pair


def _give_roles(db: Any, name: str, roles: list[str]) -> None:
    db["users"].update_one({"username": name}, {"$set": {"roles": roles}})


def test_a_user_without_roles_gets_the_seeds_token(client_for: Any, db: Any) -> None:
    client = _client(client_for, db)
    pair = _signup_and_signin(client, "plain")
    assert "roles" not in payload_of(pair["accessToken"])
    assert set(pair) == {"accessToken", "refreshToken"}
    assert "roles" not in db["users"].find_one({"username": "plain"})
    me = client.get("/auth/me", headers=bearer(pair["accessToken"]))
    assert set(me.json()) == {"_id", "username"}
    assert client.get("/edit", headers=bearer(pair["accessToken"])).status_code == 403


def test_roles_travel_in_the_token_and_open_a_scoped_guard(client_for: Any, db: Any) -> None:
    client = _client(client_for, db)
    client.post("/auth/signup", json={"username": "writer", "password": PASSWORD})
    _give_roles(db, "writer", ["editor", "reports:read"])
    pair = client.post("/auth/signin", json={"username": "writer", "password": PASSWORD}).json()
    assert payload_of(pair["accessToken"])["roles"] == ["editor", "reports:read"]
    answer = client.get("/edit", headers=bearer(pair["accessToken"]))
    assert (answer.status_code, answer.json()) == (200, {"editing": "writer"})


def test_a_change_of_roles_arrives_at_the_next_refresh(client_for: Any, db: Any) -> None:
    client = _client(client_for, db)
    pair = _signup_and_signin(client, "promoted")
    assert client.get("/edit", headers=bearer(pair["accessToken"])).status_code == 403
    _give_roles(db, "promoted", ["editor"])
    # Without revocation checks the old token is judged by itself: still no role.
    assert client.get("/edit", headers=bearer(pair["accessToken"])).status_code == 403
    fresh = client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}).json()
    assert payload_of(fresh["accessToken"])["roles"] == ["editor"]
    assert client.get("/edit", headers=bearer(fresh["accessToken"])).status_code == 200
    db["users"].update_one({"username": "promoted"}, {"$unset": {"roles": ""}})
    demoted = client.post("/auth/refresh", json={"refreshToken": fresh["refreshToken"]}).json()
    assert "roles" not in payload_of(demoted["accessToken"])
    assert client.get("/edit", headers=bearer(demoted["accessToken"])).status_code == 403


def _admin_token(client: Any, db: Any) -> str:
    client.post("/auth/signup", json={"username": "root", "password": PASSWORD})
    _give_roles(db, "root", ["admin"])
    pair = client.post("/auth/signin", json={"username": "root", "password": PASSWORD}).json()
    token: str = pair["accessToken"]
    return token


def test_with_revocation_checks_a_role_change_stops_old_tokens_at_once(
    client_for: Any, db: Any
) -> None:
    client = _client(client_for, db, revocation_checks=True)
    admin = _admin_token(client, db)
    pair = _signup_and_signin(client, "demoted")
    _give_roles(db, "demoted", ["editor"])
    pair = client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}).json()
    assert client.get("/edit", headers=bearer(pair["accessToken"])).status_code == 200
    user_id = db["users"].find_one({"username": "demoted"})["_id"]
    changed = client.put(
        f"/auth/admin/users/{user_id}/roles", json={"roles": []}, headers=bearer(admin)
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/edit", headers=bearer(pair["accessToken"])).status_code == 401
    # The refresh token lives on: the next pair carries the roles as they are now.
    fresh = client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert fresh.status_code == 200
    assert client.get("/edit", headers=bearer(fresh.json()["accessToken"])).status_code == 403


def test_a_disabled_user_cannot_sign_in_and_a_stranger_cannot_tell(
    client_for: Any, db: Any
) -> None:
    client = _client(client_for, db)
    _signup_and_signin(client, "gone")
    db["users"].update_one({"username": "gone"}, {"$set": {"disabled": True}})
    right = client.post("/auth/signin", json={"username": "gone", "password": PASSWORD})
    assert right.status_code == 403
    assert right.json() == {
        "message": "This account is disabled",
        "error": "Forbidden",
        "statusCode": 403,
    }
    wrong = client.post("/auth/signin", json={"username": "gone", "password": "Wrong-pass1"})
    unknown = client.post("/auth/signin", json={"username": "nobody", "password": "Wrong-pass1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["message"] == "Invalid credentials"
    db["users"].update_one({"username": "gone"}, {"$unset": {"disabled": ""}})
    again = client.post("/auth/signin", json={"username": "gone", "password": PASSWORD})
    assert again.status_code == 201


def test_a_disabled_user_cannot_refresh(client_for: Any, db: Any) -> None:
    client = _client(client_for, db)
    pair = _signup_and_signin(client, "frozen")
    db["users"].update_one({"username": "frozen"}, {"$set": {"disabled": True}})
    refused = client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert refused.status_code == 401
    assert refused.json()["message"] == "Invalid or expired refresh token"
    # The session was ended, not merely refused: enabling the user does not revive it.
    db["users"].update_one({"username": "frozen"}, {"$unset": {"disabled": ""}})
    assert (
        client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]}).status_code == 401
    )


def test_with_revocation_checks_a_disabled_users_tokens_stop_at_once(
    client_for: Any, db: Any
) -> None:
    client = _client(client_for, db, revocation_checks=True)
    pair = _signup_and_signin(client, "stopped")
    assert client.get("/auth/me", headers=bearer(pair["accessToken"])).status_code == 200
    db["users"].update_one({"username": "stopped"}, {"$set": {"disabled": True}})
    assert client.get("/auth/me", headers=bearer(pair["accessToken"])).status_code == 401


def test_without_revocation_checks_a_disabled_users_token_lives_until_exp(
    client_for: Any, db: Any
) -> None:
    # The documented trade-off: no database read per request, so a token already out works
    # until it expires (JWT_EXPIRES_IN); only sign-in and refresh are refused.
    client = _client(client_for, db)
    pair = _signup_and_signin(client, "lingering")
    db["users"].update_one({"username": "lingering"}, {"$set": {"disabled": True}})
    assert client.get("/auth/me", headers=bearer(pair["accessToken"])).status_code == 200


def test_a_refresh_racing_a_disable_never_leaves_a_live_session(db: Any) -> None:
    # Whichever reaches the database first, once the disable has returned the user has no
    # session and no refresh token that works: a refresh that won got a pair that is dead.
    users = MongoUserStore(db["users"])
    sessions = MongoSessionStore(db["auth_sessions"], db["refresh_tokens"])
    lifecycle = TokenLifecycle(
        TokenIssuer(SECRET, 60), users, sessions, MongoDenylist(db["revoked_tokens"])
    )
    admin = Administration(
        users,
        UserDirectory(db["users"]),
        lifecycle,
        PasswordHasher(4),
        SigninThrottle(db["signin_failures"], per_account=None, per_address=None),
    )

    async def round_(n: int) -> None:
        user = await users.create(f"racer{n}", "$2b$04$" + "x" * 53)
        pair = await lifecycle.sign_in(user.id, user.username)
        assert pair.refresh_token is not None
        # Started in either order, so that either may reach the database first.
        disable, refresh = admin.disable(user.id, by="test"), lifecycle.refresh(pair.refresh_token)
        first, second = (refresh, disable) if n % 2 else (disable, refresh)
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        refreshed = outcomes[0] if n % 2 else outcomes[1]
        assert await lifecycle.list_sessions(user.id) == []
        if isinstance(refreshed, TokenPair):
            assert refreshed.refresh_token is not None
            with pytest.raises(InvalidRefreshToken):
                await lifecycle.refresh(refreshed.refresh_token)
        else:
            assert isinstance(refreshed, InvalidRefreshToken)

    async def refreshed_just_before(n: int) -> None:
        # The refresh won outright: its new pair dies with the disable.
        user = await users.create(f"early{n}", "$2b$04$" + "x" * 53)
        pair = await lifecycle.sign_in(user.id, user.username)
        assert pair.refresh_token is not None
        fresh = await lifecycle.refresh(pair.refresh_token)
        await admin.disable(user.id, by="test")
        assert await lifecycle.list_sessions(user.id) == []
        assert fresh.refresh_token is not None
        with pytest.raises(InvalidRefreshToken):
            await lifecycle.refresh(fresh.refresh_token)

    async def rounds() -> None:
        await refreshed_just_before(0)
        for n in range(12):
            await round_(n)

    asyncio.run(rounds())


def test_a_step_up_keeps_the_tokens_roles(client_for: Any, db: Any) -> None:
    client = _client(client_for, db)
    client.post("/auth/signup", json={"username": "stepper", "password": PASSWORD})
    _give_roles(db, "stepper", ["editor"])
    pair = client.post("/auth/signin", json={"username": "stepper", "password": PASSWORD}).json()
    stepped = client.post(
        "/auth/step-up", json={"password": PASSWORD}, headers=bearer(pair["accessToken"])
    )
    assert stepped.status_code == 200, stepped.text
    assert payload_of(stepped.json()["accessToken"])["roles"] == ["editor"]
    plain_pair = _signup_and_signin(client, "plainer")
    plain = client.post(
        "/auth/step-up", json={"password": PASSWORD}, headers=bearer(plain_pair["accessToken"])
    )
    assert "roles" not in payload_of(plain.json()["accessToken"])


def _with_totp(client: Any, name: str) -> tuple[str, list[str]]:
    """Sign `name` up and turn TOTP on: its secret and recovery codes."""
    token = _signup_and_signin(client, name)["accessToken"]
    secret: str = client.post("/auth/mfa/totp", headers=bearer(token)).json()["secret"]
    code = pyotp.TOTP(secret).now()
    confirmed = client.post("/auth/mfa/totp/confirm", json={"code": code}, headers=bearer(token))
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def _challenge(client: Any, name: str) -> str:
    signin = client.post("/auth/signin", json={"username": name, "password": PASSWORD})
    assert signin.status_code == 200 and signin.json()["mfa_required"], signin.text
    token: str = signin.json()["mfa_token"]
    return token


def test_a_second_factor_sign_in_carries_the_roles_and_refuses_a_disabled_user(
    client_for: Any, db: Any
) -> None:
    client = _client(client_for, db)
    secret, recovery_codes = _with_totp(client, "twofa")
    _give_roles(db, "twofa", ["editor"])
    # The code of the next step: the current one was spent confirming the enrolment.
    code = pyotp.TOTP(secret).at(time.time() + 30)
    verified = client.post(
        "/auth/mfa/verify", json={"mfa_token": _challenge(client, "twofa"), "code": code}
    )
    assert verified.status_code == 201, verified.text
    assert payload_of(verified.json()["accessToken"])["roles"] == ["editor"]
    # Disabled between the password and the code: no tokens.
    pending = _challenge(client, "twofa")
    db["users"].update_one({"username": "twofa"}, {"$set": {"disabled": True}})
    refused = client.post(
        "/auth/mfa/verify", json={"mfa_token": pending, "recovery_code": recovery_codes[0]}
    )
    assert (refused.status_code, refused.json()["message"]) == (403, "This account is disabled")
