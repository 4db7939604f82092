"""Helpers for the accounts tests: a mailbox read off the development sender's log, and
signing users up, in and verified through a TestClient."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest

from authkit.http.settings import ServerSettings

__all__ = [
    "LINK",
    "NEW_PASSWORD",
    "PASSWORD",
    "PUBLIC",
    "Mailbox",
    "signed_up",
    "signin_bearer",
    "verified_user",
]

PASSWORD = "s3cret-pass"
NEW_PASSWORD = "another-pass-42"
PUBLIC = ServerSettings(public_url="https://auth.example.com/")
LINK = re.compile(r"https://auth\.example\.com(/auth/[a-z/]+)\?token=([A-Za-z0-9_-]{43})")


class Mailbox:
    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        caplog.set_level(logging.INFO, logger="authkit.mail")

    def messages(self) -> list[str]:
        return [
            r.getMessage()
            for r in self.caplog.records
            if r.name == "authkit.mail"
            and r.getMessage().startswith("mail not sent (development sender)")
        ]

    def wait(self, count: int) -> list[str]:
        deadline = time.monotonic() + 5
        while len(self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages()

    def link(self, index: int = -1, count: int | None = None) -> tuple[str, str]:
        messages = self.wait(count if count is not None else 1)
        match = LINK.search(messages[index])
        assert match is not None, messages[index]
        return match[1], match[2]


def signed_up(client: Any, username: str = "alice", email: str | None = None) -> Any:
    body: dict[str, Any] = {"username": username, "password": PASSWORD}
    if email is not None:
        body["email"] = email
    return client.post("/auth/signup", json=body)


def signin_bearer(client: Any, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/signin", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def verified_user(
    client: Any, mailbox: Mailbox, username: str = "alice", email: str = "alice@example.com"
) -> dict[str, str]:
    before = len(mailbox.messages())
    assert signed_up(client, username, email).status_code == 201
    _, token = mailbox.link(count=before + 1)
    assert client.post("/auth/email/verify", json={"token": token}).status_code == 200
    return signin_bearer(client, username)
