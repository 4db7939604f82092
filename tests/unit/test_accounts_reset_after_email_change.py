"""A reset link goes to the address the account had when it was asked for; once the user
has moved to another verified address, a link in the old mailbox (which may be why they
moved) no longer resets the password."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.accounts import NEW_PASSWORD, PASSWORD, PUBLIC, Mailbox, signin_bearer, verified_user
from support.settings import make_settings

from unit.test_accounts_passwords import reset_link


def test_a_reset_link_to_the_old_address_dies_with_the_change(
    make_client: Callable[..., Any], mailbox: Mailbox
) -> None:
    client = make_client(make_settings(server=PUBLIC))
    headers = verified_user(client, mailbox)
    old_link = reset_link(client, mailbox)
    before = len(mailbox.messages())
    moved = client.post("/auth/email", json={"email": "alice@new.example"}, headers=headers)
    assert moved.status_code == 202, moved.text
    _, verification = mailbox.link(count=before + 1)
    assert client.post("/auth/email/verify", json={"token": verification}).status_code == 200
    late = client.post("/auth/password/reset", json={"token": old_link, "password": NEW_PASSWORD})
    assert late.status_code == 400, late.text
    assert signin_bearer(client, password=PASSWORD)
