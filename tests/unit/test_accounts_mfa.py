"""Accounts beside second factors: a user with TOTP changes the password or deletes the
account only with a recent sign-in (step-up), and deletion takes the factors too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyotp
from support.accounts import NEW_PASSWORD, PASSWORD, PUBLIC, Mailbox, signed_up
from support.jwt import bearer
from support.settings import SECRET, make_settings

from authkit.tokens.issuer import TokenIssuer


def _fresh_token(client: Any) -> str:
    signin = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert signin.status_code == 201, signin.text
    token: str = signin.json()["accessToken"]
    return token


def _turn_totp_on(client: Any, token: str) -> str:
    enrolment = client.post("/auth/mfa/totp", headers=bearer(token))
    secret: str = enrolment.json()["secret"]
    code = pyotp.TOTP(secret).now()
    confirm = client.post("/auth/mfa/totp/confirm", json={"code": code}, headers=bearer(token))
    assert confirm.status_code == 200, confirm.text
    return secret


def _old_token(db: Any) -> str:
    user = db["users"].find_one({"username": "alice"})
    claims = {"token_version": 0, "auth_time": int(time.time()) - 600}
    return TokenIssuer(SECRET, 60).issue(user_id=str(user["_id"]), username="alice", claims=claims)


def test_a_totp_user_needs_a_recent_sign_in_to_change_the_password_or_delete(
    make_client: Callable[..., Any], db: Any
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    signed_up(client)
    secret = _turn_totp_on(client, _fresh_token(client))
    stale = bearer(_old_token(db))
    change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    refused = client.post("/auth/password/change", json=change, headers=stale)
    assert (refused.status_code, refused.json()["error"]) == (401, "step_up_required")
    gone = client.request("DELETE", "/auth/account", json={"password": PASSWORD}, headers=stale)
    assert gone.status_code == 401 and db.users.count_documents({}) == 1

    step_up = client.post(
        "/auth/step-up", json={"code": pyotp.TOTP(secret).at(time.time() + 30)}, headers=stale
    )
    assert step_up.status_code == 200, step_up.text
    fresh = bearer(step_up.json()["accessToken"])
    deleted = client.request("DELETE", "/auth/account", json={"password": PASSWORD}, headers=fresh)
    assert deleted.status_code == 204
    assert db.users.count_documents({}) == 0 and db.mfa_factors.count_documents({}) == 0


def test_a_user_without_a_second_factor_needs_the_password_only(
    make_client: Callable[..., Any], db: Any
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    signed_up(client)
    change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    answer = client.post("/auth/password/change", json=change, headers=bearer(_old_token(db)))
    assert answer.status_code == 200, answer.text


def test_setting_an_email_address_needs_a_recent_sign_in_from_everyone(
    make_client: Callable[..., Any], db: Any, mailbox: Mailbox
) -> None:
    # A reset link goes to the address: an old (stolen) access token that could set one
    # would take the account over, second factor or not.
    client = make_client(make_settings(server=PUBLIC))
    signed_up(client)
    stale = bearer(_old_token(db))
    refused = client.post("/auth/email", json={"email": "mallory@example.com"}, headers=stale)
    assert (refused.status_code, refused.json()["error"]) == (401, "step_up_required")
    assert db.users.find_one({"username": "alice"}).get("email") is None
    assert not mailbox.messages()

    step_up = client.post("/auth/step-up", json={"password": PASSWORD}, headers=stale)
    assert step_up.status_code == 200, step_up.text
    fresh = bearer(step_up.json()["accessToken"])
    accepted = client.post("/auth/email", json={"email": "alice@example.com"}, headers=fresh)
    assert accepted.status_code == 202, accepted.text


def _passwordless(db: Any) -> Callable[[int], dict[str, str]]:
    """A user made by social sign-in (no password), and their bearer signed in `ago` s ago."""
    user_id = db.users.insert_one({"username": "octocat", "__v": 0}).inserted_id

    def token(signed_in_ago: int) -> dict[str, str]:
        claims = {"token_version": 0, "auth_time": int(time.time()) - signed_in_ago}
        issued = TokenIssuer(SECRET, 60).issue(
            user_id=str(user_id), username="octocat", claims=claims
        )
        return bearer(issued)

    return token


def test_a_user_without_a_password_deletes_the_account_with_a_recent_sign_in(
    make_client: Callable[..., Any], db: Any
) -> None:
    # Made by social sign-in: no password to re-enter, so the proof is a recent sign-in.
    client = make_client(make_settings(server=PUBLIC))
    token = _passwordless(db)
    stale = client.request("DELETE", "/auth/account", json={}, headers=token(600))
    assert (stale.status_code, stale.json()["error"]) == (401, "step_up_required")
    assert db.users.count_documents({}) == 1
    gone = client.request("DELETE", "/auth/account", json={}, headers=token(5))
    assert gone.status_code == 204, gone.text
    assert db.users.count_documents({}) == 0


def test_a_user_with_a_password_still_needs_it_to_delete_however_recent(
    make_client: Callable[..., Any], db: Any
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    signed_up(client)
    fresh = bearer(_fresh_token(client))
    refused = client.request("DELETE", "/auth/account", json={}, headers=fresh)
    assert refused.status_code == 400 and db.users.count_documents({}) == 1


def test_a_user_without_a_password_sets_a_first_one_after_a_recent_sign_in(
    make_client: Callable[..., Any], db: Any
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    token = _passwordless(db)
    body = {"newPassword": NEW_PASSWORD}
    stale = client.post("/auth/password/change", json=body, headers=token(600))
    assert (stale.status_code, stale.json()["error"]) == (401, "step_up_required")
    weak = client.post("/auth/password/change", json={"newPassword": "x"}, headers=token(5))
    assert weak.status_code == 400
    changed = client.post("/auth/password/change", json=body, headers=token(5))
    assert changed.status_code == 200, changed.text
    signin = client.post("/auth/signin", json={"username": "octocat", "password": NEW_PASSWORD})
    assert signin.status_code == 201
    # From now on it is a password like any other: changing it again takes the current one.
    again = client.post("/auth/password/change", json=body, headers=token(5))
    assert again.status_code == 400


def test_a_user_without_a_password_sets_one_through_a_reset_link_to_their_verified_address(
    make_client: Callable[..., Any], db: Any, mailbox: Mailbox
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    _passwordless(db)
    db.users.update_one(
        {"username": "octocat"},
        {
            "$set": {
                "email": "octo@example.com",
                "email_key": "octo@example.com",
                "email_verified": True,
                "verified_email_key": "octo@example.com",
            }
        },
    )
    forgot = client.post("/auth/password/forgot", json={"email": "octo@example.com"})
    assert forgot.status_code == 202
    path, reset = mailbox.link()
    assert path == "/auth/password/reset"
    done = client.post(path, json={"token": reset, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    signin = client.post("/auth/signin", json={"username": "octocat", "password": NEW_PASSWORD})
    assert signin.status_code == 201
