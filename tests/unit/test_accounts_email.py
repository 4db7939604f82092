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


def test_a_verified_address_is_claimed_by_nobody_else_and_the_answer_does_not_say_so(
    app: Any, mailbox: Mailbox, db: Any
) -> None:
    verified_user(app, mailbox, "alice", "alice@example.com")
    taken = signed_up(app, "bobby", "ALICE@Example.COM")
    free = signed_up(app, "carol", "carol@example.com")
    # The same answer for an address that is registered and one that is not.
    assert (taken.status_code, taken.content) == (free.status_code, free.content) == (201, b"")
    messages = mailbox.wait(3)
    notice = messages[1]
    # Alice hears that someone asked for her address; no link that could verify it is sent.
    assert "ALICE@example.com" in notice and '"bobby"' in notice and "already" in notice
    assert "token=" not in notice
    assert db.users.find_one({"username": "alice"})["email_verified"] is True
    assert signed_up(app, "dave").status_code == 201  # many users without one


def test_an_unverified_address_does_not_keep_its_owner_from_adding_it(
    app: Any, mailbox: Mailbox, db: Any
) -> None:
    # Mallory puts Alice's address on her account first; the link goes to Alice, unused.
    assert signed_up(app, "mallory", "alice@example.com").status_code == 201
    path, mallorys_link = mailbox.link(count=1)
    # Alice adds her address to her own account and follows her own link: it is hers.
    headers = verified_user(app, mailbox, "alice", "Alice@Example.com")
    state = app.get("/auth/email", headers=headers).json()
    assert (state["email"], state["emailVerified"]) == ("Alice@example.com", True)
    # Mallory's claim is gone, and the link mailed for it confirms nothing now.
    assert "email" not in db.users.find_one({"username": "mallory"})
    refused = app.post(path, json={"token": mallorys_link})
    assert (refused.status_code, refused.json()["message"]) == (
        400,
        "The link is invalid or has expired",
    )
    mallory = signin_bearer(app, "mallory")
    assert app.get("/auth/email", headers=mallory).json()["email"] is None


def test_asking_for_someone_elses_verified_address_answers_as_for_a_free_one(
    app: Any, mailbox: Mailbox
) -> None:
    verified_user(app, mailbox, "alice", "alice@example.com")
    assert signed_up(app, "bobby").status_code == 201
    bobby = signin_bearer(app, "bobby")
    taken = app.post("/auth/email", json={"email": "alice@EXAMPLE.com"}, headers=bobby)
    free = app.post("/auth/email", json={"email": "bob@example.com"}, headers=bobby)
    assert taken.status_code == free.status_code
    assert taken.json() == {
        "email": "alice@example.com",
        "emailVerified": False,
        "pendingEmail": None,
    }
    messages = mailbox.wait(3)
    assert "token=" not in messages[1] and '"bobby"' in messages[1]
    assert "token=" in messages[2] and "bob@example.com" in messages[2]


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


def test_the_confirm_page_names_the_account_the_address_would_join(
    app: Any, mailbox: Mailbox
) -> None:
    # Mallory's trap: Alice's address on Mallory's account, the link in Alice's inbox.
    signed_up(app, "mallory", email="alice@example.com")
    path, token = mailbox.link()
    page = app.get(path, params={"token": token})
    assert page.status_code == 200
    assert "<strong>alice@example.com</strong> as the address of the account" in page.text
    assert "<strong>mallory</strong> is not your account" in page.text
    assert app.post(path, json={"token": token}).status_code == 200
    again = app.get(path, params={"token": token})
    assert again.status_code == 200 and "There is nothing more to do" in again.text
    assert "<form" not in again.text
    # Unknown (or expired): the page says so instead of offering a button that fails.
    dead = app.get(path, params={"token": "A" * 43})
    assert dead.status_code == 400 and "expired or was used up" in dead.text
    assert "<form" not in dead.text


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


def test_the_verified_address_another_user_has_stays_theirs(
    app: Any, mailbox: Mailbox, db: Any
) -> None:
    verified_user(app, mailbox, "alice", "alice@example.com")
    headers = verified_user(app, mailbox, "bobby", "bob@example.com")
    taken = app.post("/auth/email", json={"email": "Alice@example.com"}, headers=headers)
    # Pending as any change is, so the answer tells nothing; only a notice goes to Alice.
    assert (taken.status_code, taken.json()["pendingEmail"]) == (202, "Alice@example.com")
    assert "token=" not in mailbox.wait(3)[2]
    alice = db.users.find_one({"username": "alice"})
    assert (alice["email"], alice["email_verified"]) == ("alice@example.com", True)


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


def test_asking_for_a_taken_address_does_the_same_writes_as_for_a_free_one(
    app: Any, mailbox: Mailbox, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified_user(app, mailbox, "alice", "alice@example.com")
    assert signed_up(app, "bobby").status_code == 201
    bobby = signin_bearer(app, "bobby")
    writes: list[str] = []
    real_insert = type(db.account_tokens).insert_one
    real_update = type(db.users).update_one

    def counting_insert(self: Any, doc: Any, *args: Any, **kwargs: Any) -> Any:
        writes.append(f"insert {self.name}")
        return real_insert(self, doc, *args, **kwargs)

    def counting_update(self: Any, *args: Any, **kwargs: Any) -> Any:
        writes.append(f"update {self.name}")
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(type(db.account_tokens), "insert_one", counting_insert)
    monkeypatch.setattr(type(db.users), "update_one", counting_update)
    answers = []
    for email in ("alice@example.com", "free@example.com"):
        writes.clear()
        answers.append(app.post("/auth/email", json={"email": email}, headers=bobby))
        answers.append(list(writes))
    taken, taken_writes, free, free_writes = answers
    assert (taken.status_code, taken.headers.get("cache-control")) == (
        free.status_code,
        free.headers.get("cache-control"),
    )
    assert taken_writes == free_writes and "insert account_tokens" in free_writes


def test_a_dropped_claims_link_stays_dead_when_the_claim_is_made_again(
    app: Any, mailbox: Mailbox
) -> None:
    assert signed_up(app, "mallory", "victim@example.com").status_code == 201
    path, mallorys_link = mailbox.link(count=1)
    alice = verified_user(app, mailbox, "alice", "victim@example.com")
    mallory = signin_bearer(app, "mallory")
    again = app.post("/auth/email", json={"email": "victim@example.com"}, headers=mallory)
    assert again.status_code == 202
    # Alice moves to another address: hers is free, and Mallory claims it still.
    moved = app.post("/auth/email", json={"email": "alice2@example.com"}, headers=alice)
    assert moved.status_code == 202
    _, alices_link = mailbox.link(count=4)  # the fourth mail: after the notice to Alice
    assert app.post(path, json={"token": alices_link}).status_code == 200
    refused = app.post(path, json={"token": mallorys_link})
    assert refused.status_code == 400
    assert app.get("/auth/email", headers=mallory).json()["emailVerified"] is False
