"""Accounts, email side: addresses, verification, forgot/reset, change, deletion, through
the whole app (TestClient + mongomock). Mail is read off the development sender's log,
which is what a developer without a mail server reads too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from support.accounts import PASSWORD, PUBLIC, Mailbox, signed_up, signin_bearer, verified_user
from support.settings import make_settings

from authkit.accounts.settings import AccountSettings
from authkit.passwords.throttle import Limit


@pytest.fixture
def app(make_client: Callable[..., Any]) -> Any:
    return make_client(make_settings(server=PUBLIC))


# --- sign-up ---------------------------------------------------------------------------


def test_signup_without_email_is_the_seeds_answer_and_stores_no_email(app: Any, db: Any) -> None:
    response = signed_up(app)
    assert (response.status_code, response.content) == (201, b"")
    assert "email" not in db.users.find_one({"username": "alice"})


def test_signup_with_email_answers_the_same_and_mails_a_link(
    app: Any, db: Any, mailbox: Mailbox
) -> None:
    response = signed_up(app, email=" Alice@EXAMPLE.com ")
    assert (response.status_code, response.content) == (201, b"")
    doc = db.users.find_one({"username": "alice"})
    assert (doc["email"], doc["email_verified"]) == ("Alice@example.com", False)
    path, token = mailbox.link()
    assert path == "/auth/email/verify"
    assert token not in str(doc) and token not in str(list(db.account_tokens.find()))


@pytest.mark.parametrize(
    "email",
    [
        "not-an-address",
        "a@b",
        "a b@example.com",
        '"x"@example.com',
        "a@@example.com",
        42,
        "a@1.2.3.4",
        "x" * 250 + "@example.com",
    ],
)
def test_garbage_addresses_are_refused_with_400(app: Any, email: Any, db: Any) -> None:
    response = app.post(
        "/auth/signup", json={"username": "alice", "password": PASSWORD, "email": email}
    )
    assert response.status_code == 400
    assert any("email" in m for m in response.json()["message"])
    assert db.users.count_documents({}) == 0


def test_an_address_is_unique_whatever_its_case(app: Any) -> None:
    assert signed_up(app, "alice", "alice@example.com").status_code == 201
    taken = signed_up(app, "bobby", "ALICE@Example.COM")
    assert (taken.status_code, taken.json()["message"]) == (409, "Email already in use")
    assert signed_up(app, "carol").status_code == 201  # many users without one


def test_without_a_public_url_mail_routes_answer_503_and_create_nothing(
    make_client: Callable[..., Any], db: Any
) -> None:
    client = make_client(make_settings())
    response = signed_up(client, email="alice@example.com")
    assert response.status_code == 503
    assert "AUTHKIT_PUBLIC_URL" in response.json()["message"]
    assert db.users.count_documents({}) == 0
    assert signed_up(client).status_code == 201  # sign-up without an email is unaffected
    forgot = client.post("/auth/password/forgot", json={"email": "alice@example.com"})
    assert forgot.status_code == 503


# --- verification ----------------------------------------------------------------------


def test_verifying_twice_is_harmless_and_a_made_up_token_is_refused(
    app: Any, mailbox: Mailbox
) -> None:
    signed_up(app, email="alice@example.com")
    _, token = mailbox.link()
    first = app.post("/auth/email/verify", json={"token": token})
    second = app.post("/auth/email/verify", data={"token": token})  # the page's form post
    expected = {"email": "alice@example.com", "emailVerified": True, "pendingEmail": None}
    assert (first.status_code, first.json()) == (200, expected)
    assert (second.status_code, second.json()) == (200, expected)
    bogus = app.post("/auth/email/verify", json={"token": "A" * 43})
    assert (bogus.status_code, bogus.json()["message"]) == (
        400,
        "The link is invalid or has expired",
    )


def test_the_link_opens_a_page_that_posts_the_token_and_verifies_nothing_by_itself(
    app: Any, mailbox: Mailbox, db: Any
) -> None:
    signed_up(app, email="alice@example.com")
    path, token = mailbox.link()
    page = app.get(path, params={"token": token})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f'value="{token}"' in page.text and page.headers["referrer-policy"] == "no-referrer"
    assert db.users.find_one({"username": "alice"})["email_verified"] is False
    assert app.get(path, params={"token": "<script>"}).status_code == 400


def test_an_expired_verification_link_is_refused(
    make_client: Callable[..., Any], mailbox: Mailbox, db: Any
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    signed_up(client, email="alice@example.com")
    _, token = mailbox.link()
    db.account_tokens.update_many(
        {}, {"$set": {"expires_at": db.account_tokens.find_one()["issued_at"]}}
    )
    assert client.post("/auth/email/verify", json={"token": token}).status_code == 400


def test_changing_a_verified_address_keeps_it_until_the_new_one_is_verified(
    app: Any, mailbox: Mailbox
) -> None:
    headers = verified_user(app, mailbox)
    changed = app.post("/auth/email", json={"email": "new@example.org"}, headers=headers)
    assert changed.status_code == 202
    assert changed.json() == {
        "email": "alice@example.com",
        "emailVerified": True,
        "pendingEmail": "new@example.org",
    }
    _, token = mailbox.link(count=2)
    assert "new@example.org" in mailbox.messages()[-1]
    done = app.post("/auth/email/verify", json={"token": token})
    assert done.json() == {"email": "new@example.org", "emailVerified": True, "pendingEmail": None}
    assert app.get("/auth/email", headers=headers).json() == done.json()


def test_a_link_for_an_address_replaced_since_confirms_nothing(app: Any, mailbox: Mailbox) -> None:
    headers = verified_user(app, mailbox)
    app.post("/auth/email", json={"email": "first@example.org"}, headers=headers)
    _, first = mailbox.link(count=2)
    app.post("/auth/email", json={"email": "second@example.org"}, headers=headers)
    assert app.post("/auth/email/verify", json={"token": first}).status_code == 400
    state = app.get("/auth/email", headers=headers).json()
    assert state == {
        "email": "alice@example.com",
        "emailVerified": True,
        "pendingEmail": "second@example.org",
    }


def test_the_address_another_user_has_cannot_be_taken(app: Any, mailbox: Mailbox) -> None:
    verified_user(app, mailbox, "alice", "alice@example.com")
    headers = verified_user(app, mailbox, "bobby", "bob@example.com")
    taken = app.post("/auth/email", json={"email": "Alice@example.com"}, headers=headers)
    assert taken.status_code == 409


def test_mail_is_limited_per_user(make_client: Callable[..., Any], mailbox: Mailbox) -> None:
    limits = AccountSettings(mail_per_recipient=Limit(2, 3600))
    client = make_client(make_settings(server=PUBLIC, accounts=limits))
    signed_up(client, email="alice@example.com")  # one mail
    headers = signin_bearer(client)
    assert client.post("/auth/email/verification", headers=headers).status_code == 202
    refused = client.post("/auth/email/verification", headers=headers)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert len(mailbox.wait(2)) == 2


def test_routes_that_need_a_bearer_refuse_without_one(app: Any) -> None:
    assert app.get("/auth/email").status_code == 401
    assert app.post("/auth/email", json={"email": "a@example.com"}).status_code == 401
    assert app.post("/auth/password/change", json={}).status_code == 401
    assert app.request("DELETE", "/auth/account", json={}).status_code == 401


def test_a_sign_up_past_the_mail_limit_still_makes_its_account(
    make_client: Callable[..., Any], mailbox: Mailbox, db: Any
) -> None:
    limits = AccountSettings(mail_per_client=Limit(1, 3600))
    client = make_client(make_settings(server=PUBLIC, accounts=limits))
    assert signed_up(client, "alice", "alice@example.com").status_code == 201
    second = signed_up(client, "bobby", "bob@example.com")
    assert (second.status_code, second.content) == (201, b"")
    assert db.users.find_one({"username": "bobby"})["email"] == "bob@example.com"
    time.sleep(0.2)
    assert len(mailbox.messages()) == 1  # bob asks for his link later
