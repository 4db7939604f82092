"""Forgot-password, reset, change and deletion through the whole app (TestClient +
mongomock), mail read off the development sender's log; races run two requests at once."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.accounts import (
    NEW_PASSWORD,
    PASSWORD,
    PUBLIC,
    Mailbox,
    signed_up,
    signin_bearer,
    verified_user,
)
from support.settings import make_settings

from authkit.accounts.routes import FORGOT_ANSWER
from authkit.sessions.settings import SessionSettings


@pytest.fixture
def app(make_client: Callable[..., Any]) -> Any:
    return make_client(make_settings(server=PUBLIC))


def reset_link(client: Any, mailbox: Mailbox, email: str = "alice@example.com") -> str:
    before = len(mailbox.messages())
    response = client.post("/auth/password/forgot", json={"email": email})
    assert (response.status_code, response.json()) == (202, FORGOT_ANSWER)
    path, token = mailbox.link(count=before + 1)
    assert path == "/auth/password/reset"
    return token


def test_a_reset_sets_the_password_and_ends_every_session(
    make_client: Callable[..., Any], mailbox: Mailbox
) -> None:
    sessions = SessionSettings(revocation_checks=True)
    client = make_client(make_settings(server=PUBLIC, sessions=sessions))
    headers = verified_user(client, mailbox)
    refresh = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    token = reset_link(client, mailbox)
    page = client.get("/auth/password/reset", params={"token": token})
    assert page.status_code == 200 and 'type="password"' in page.text
    done = client.post("/auth/password/reset", data={"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert client.get("/auth/me", headers=headers).status_code == 401  # access token dead
    again = client.post("/auth/refresh", json={"refreshToken": refresh.json()["refreshToken"]})
    assert again.status_code == 401
    old = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert old.status_code == 401
    assert signin_bearer(client, password=NEW_PASSWORD)
    # Used once: the same link a second time changes nothing.
    twice = client.post("/auth/password/reset", json={"token": token, "password": "third-pass-99"})
    assert twice.status_code == 400


def test_a_reset_token_dies_when_the_password_changes_meanwhile(app: Any, mailbox: Mailbox) -> None:
    headers = verified_user(app, mailbox)
    token = reset_link(app, mailbox)
    change = app.post(
        "/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=headers,
    )
    assert change.status_code == 200
    late = app.post("/auth/password/reset", json={"token": token, "password": "third-pass-99"})
    assert late.status_code == 400
    assert signin_bearer(app, password=NEW_PASSWORD)


def test_a_reset_password_is_held_to_the_policy_and_the_token_survives_a_refusal(
    app: Any, mailbox: Mailbox
) -> None:
    verified_user(app, mailbox)
    token = reset_link(app, mailbox)
    for weak in ("short", "alice", "password123", 12345678):
        refused = app.post("/auth/password/reset", json={"token": token, "password": weak})
        assert refused.status_code == 400, weak
    assert (
        app.post(
            "/auth/password/reset", json={"token": token, "password": NEW_PASSWORD}
        ).status_code
        == 200
    )


def test_an_expired_reset_token_is_refused(app: Any, mailbox: Mailbox, db: Any) -> None:
    verified_user(app, mailbox)
    token = reset_link(app, mailbox)
    doc = db.account_tokens.find_one({"purpose": "reset_password"})
    db.account_tokens.update_one({"_id": doc["_id"]}, {"$set": {"expires_at": doc["issued_at"]}})
    response = app.post("/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert response.status_code == 400


def test_an_unverified_address_gets_no_reset_mail(app: Any, mailbox: Mailbox) -> None:
    signed_up(app, email="alice@example.com")
    mailbox.wait(1)
    response = app.post("/auth/password/forgot", json={"email": "alice@example.com"})
    assert (response.status_code, response.json()) == (202, FORGOT_ANSWER)
    time.sleep(0.2)
    assert len(mailbox.messages()) == 1  # the verification mail only


def test_two_resets_with_one_token_have_one_winner(app: Any, mailbox: Mailbox) -> None:
    verified_user(app, mailbox)
    token = reset_link(app, mailbox)
    passwords = ["first-new-pass-1", "second-new-pass-2"]
    start = threading.Barrier(2)
    answers: dict[str, int] = {}

    def reset(password: str) -> None:
        start.wait(timeout=5)
        response = app.post("/auth/password/reset", json={"token": token, "password": password})
        answers[password] = response.status_code

    threads = [threading.Thread(target=reset, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == [200, 400]
    winner = next(p for p, status in answers.items() if status == 200)
    loser = next(p for p in passwords if p != winner)
    assert signin_bearer(app, password=winner)
    lost = app.post("/auth/signin", json={"username": "alice", "password": loser})
    assert lost.status_code == 401


def test_verify_and_change_email_at_once_leave_a_consistent_account(
    app: Any, mailbox: Mailbox, db: Any
) -> None:
    headers = verified_user(app, mailbox)
    app.post("/auth/email", json={"email": "first@example.org"}, headers=headers)
    _, token = mailbox.link(count=2)
    start = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def verify() -> None:
        start.wait(timeout=5)
        answers["verify"] = app.post("/auth/email/verify", json={"token": token})

    def change() -> None:
        start.wait(timeout=5)
        answers["change"] = app.post(
            "/auth/email", json={"email": "second@example.org"}, headers=headers
        )

    threads = [threading.Thread(target=verify), threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers["change"].status_code == 202
    doc = db.users.find_one({"username": "alice"})
    assert doc["email_pending"] == "second@example.org"  # the change always lands
    if answers["verify"].status_code == 200:
        assert doc["email"] == "first@example.org" and doc["email_verified"] is True
    else:
        assert answers["verify"].status_code == 400
        assert doc["email"] == "alice@example.com" and doc["email_verified"] is True


# --- enumeration -----------------------------------------------------------------------


def test_forgot_password_looks_and_works_the_same_for_known_and_unknown_addresses(
    app: Any, mailbox: Mailbox, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified_user(app, mailbox)
    signed_up(app, "bobby", "bob@example.com")  # unverified
    inserts: list[str] = []
    real_insert = type(db.account_tokens).insert_one

    def counting_insert(self: Any, doc: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name == "account_tokens":
            inserts.append(doc["purpose"])
        return real_insert(self, doc, *args, **kwargs)

    monkeypatch.setattr(type(db.account_tokens), "insert_one", counting_insert)
    answers = [
        app.post("/auth/password/forgot", json={"email": email})
        for email in ("alice@example.com", "nobody@example.com", "bob@example.com")
    ]
    assert {(r.status_code, r.content, r.headers.get("cache-control")) for r in answers} == {
        (202, answers[0].content, "no-store")
    }
    assert inserts == ["reset_password"] * 3  # the same write in every case


def _median_seconds(client: Any, email: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.post("/auth/password/forgot", json={"email": email})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_forgot_password_takes_as_long_for_an_unknown_address_as_for_a_known_one(
    make_client: Callable[..., Any], mailbox: Mailbox
) -> None:
    from authkit.accounts.settings import AccountSettings

    unlimited = AccountSettings(mail_per_recipient=None, mail_per_client=None)
    client = make_client(make_settings(server=PUBLIC, accounts=unlimited))
    verified_user(client, mailbox)
    known, unknown = [], []
    for _ in range(3):  # interleaved, so a slow moment of the machine hits both
        known.append(_median_seconds(client, "alice@example.com", 7))
        unknown.append(_median_seconds(client, "nobody@example.com", 7))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 1 / 3 < ratio < 3, (known, unknown)


# --- change and delete -----------------------------------------------------------------


def test_a_change_needs_the_current_password_and_ends_the_other_sessions(
    make_client: Callable[..., Any], mailbox: Mailbox
) -> None:
    sessions = SessionSettings(revocation_checks=True)
    client = make_client(make_settings(server=PUBLIC, sessions=sessions))
    signed_up(client)
    other = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()
    mine = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {mine['accessToken']}"}
    wrong = client.post(
        "/auth/password/change",
        json={"currentPassword": "not-it-at-all", "newPassword": NEW_PASSWORD},
        headers=headers,
    )
    assert (wrong.status_code, wrong.json()["message"]) == (400, ["currentPassword is incorrect"])
    changed = client.post(
        "/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200
    fresh = {"Authorization": f"Bearer {changed.json()['accessToken']}"}
    assert client.get("/auth/me", headers=fresh).status_code == 200
    other_bearer = {"Authorization": f"Bearer {other['accessToken']}"}
    assert client.get("/auth/me", headers=other_bearer).status_code == 401
    assert (
        client.post("/auth/refresh", json={"refreshToken": other["refreshToken"]}).status_code
        == 401
    )
    # This session goes on: its refresh token still works.
    assert (
        client.post("/auth/refresh", json={"refreshToken": mine["refreshToken"]}).status_code == 200
    )


def test_a_change_to_a_weak_password_is_refused(app: Any) -> None:
    signed_up(app)
    response = app.post(
        "/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": "short"},
        headers=signin_bearer(app),
    )
    assert response.status_code == 400
    assert signin_bearer(app, password=PASSWORD)


def test_deleting_an_account_needs_the_password_and_removes_everything(
    make_client: Callable[..., Any], mailbox: Mailbox, db: Any
) -> None:
    sessions = SessionSettings(revocation_checks=True)
    app = make_client(make_settings(server=PUBLIC, sessions=sessions))
    headers = verified_user(app, mailbox)
    user_id = str(db.users.find_one({"username": "alice"})["_id"])
    # The collections social sign-in and passkeys keep (authkit.social, authkit.passkeys).
    db.oauth_identities.insert_one({"user_id": user_id, "issuer": "https://idp", "subject": "1"})
    db.passkeys.insert_one({"user_id": user_id, "name": "laptop"})
    db.webauthn_challenges.insert_one({"_id": "c", "user_id": user_id, "purpose": "register"})
    refused = app.request(
        "DELETE", "/auth/account", json={"password": "wrong-one-1"}, headers=headers
    )
    assert refused.status_code == 400 and db.users.count_documents({}) == 1
    done = app.request("DELETE", "/auth/account", json={"password": PASSWORD}, headers=headers)
    assert done.status_code == 204
    assert db.users.count_documents({}) == 0
    assert db.oauth_identities.count_documents({}) == 0
    assert db.passkeys.count_documents({}) == 0
    assert db.webauthn_challenges.count_documents({}) == 0
    assert db.auth_sessions.count_documents({"user_id": user_id}) == 0
    assert db.refresh_tokens.count_documents({"user_id": user_id}) == 0
    assert db.account_tokens.count_documents({"user_id": user_id}) == 0
    assert app.get("/auth/me", headers=headers).status_code == 401  # its tokens are dead
    gone = app.post("/auth/signin", json={"username": "alice", "password": PASSWORD})
    assert gone.status_code == 401
    assert signed_up(app, "alice", "alice@example.com").status_code == 201  # name and address free


def test_unknown_token_and_missing_fields_are_400_not_500(app: Any) -> None:
    for body in ({}, {"token": 5}, {"token": "x"}, {"token": "A" * 43, "password": NEW_PASSWORD}):
        assert app.post("/auth/password/reset", json=body).status_code == 400
    assert app.post("/auth/password/forgot", json={}).status_code == 400
    assert app.post("/auth/password/forgot", json=["x"]).status_code == 400
    assert app.post("/auth/email/verify", json={}).status_code == 400


def test_a_forged_host_header_does_not_reach_the_link(app: Any, mailbox: Mailbox) -> None:
    verified_user(app, mailbox)
    before = len(mailbox.messages())
    app.post(
        "/auth/password/forgot",
        json={"email": "alice@example.com"},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    message = mailbox.wait(before + 1)[-1]
    assert "https://auth.example.com/auth/password/reset?token=" in message
    assert "evil.example" not in message


def test_a_changed_or_reset_password_is_told_to_the_verified_address(
    app: Any, mailbox: Mailbox
) -> None:
    headers = verified_user(app, mailbox)  # one mail: the verification link
    changed = app.post(
        "/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=headers,
    )
    assert changed.status_code == 200
    notice = mailbox.wait(2)[1]
    assert "Your password was changed" in notice and "alice@example.com" in notice
    assert "token=" not in notice
    assert app.post("/auth/password/forgot", json={"email": "alice@example.com"}).status_code == 202
    path, reset = mailbox.link(count=3)
    assert app.post(path, json={"token": reset, "password": PASSWORD}).status_code == 200
    assert "Your password was changed" in mailbox.wait(4)[3]


def test_no_notice_goes_to_an_address_nobody_verified(app: Any, mailbox: Mailbox) -> None:
    signed_up(app, email="alice@example.com")  # unverified: may be someone else's
    headers = signin_bearer(app)
    body = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    assert app.post("/auth/password/change", json=body, headers=headers).status_code == 200
    time.sleep(0.2)  # the outbox sends in the background: give a wrong notice time to show
    assert len(mailbox.messages()) == 1
