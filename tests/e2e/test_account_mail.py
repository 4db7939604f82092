"""Password reset by mail, end to end: `uvicorn authkit.asgi:app` on SecantusDB sends through
a real SMTP server (aiosmtpd on loopback); the test reads the mail that server received,
follows its link, sets a new password, and signs in with it.

The same rules on mongomock, one at a time: tests/unit/test_accounts_*.py.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from support.processes import AppProcess, eventually, with_database

from authkit.storage.embedded import free_port

pytestmark = pytest.mark.e2e

PASSWORD = "Passw0rd!x"
NEW_PASSWORD = "Brand-new-pass-7"
PUBLIC_URL = "https://auth.example.test"


class Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str, subject: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address and m["Subject"] == subject]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def database_uri(mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]) -> Iterator[str]:
    name = f"authkit_test_{uuid.uuid4().hex[:16]}"
    yield with_database(mongo_uri, name)
    with contextlib.suppress(PyMongoError):
        mongo_client.drop_database(name)


def _link(message: EmailMessage, path: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = re.search(re.escape(PUBLIC_URL + path) + r"\?token=[A-Za-z0-9_-]+", body.get_content())
    assert match is not None, body.get_content()
    return match[0]


def _follow(app: AppProcess, link: str) -> str:
    """The page the link opens, asked of the server at its real address."""
    return link.replace(PUBLIC_URL, app.base_url)


def test_reset_by_mail_through_a_real_smtp_server(
    smtp: tuple[Inbox, int],
    start_uvicorn: Callable[..., AppProcess],
    database_uri: str,
    jwt_secret: str,
) -> None:
    inbox, port = smtp
    app = start_uvicorn(
        {
            "MONGO_URI": database_uri,
            "JWT_SECRET": jwt_secret,
            "BCRYPT_ROUNDS": "4",
            "AUTHKIT_REVOCATION_CHECKS": "true",
            "AUTHKIT_PUBLIC_URL": PUBLIC_URL,
            # No TLS and no credentials: a loopback relay (authkit refuses credentials so).
            "AUTHKIT_SMTP_URL": f"smtp://127.0.0.1:{port}?starttls=false",
            "AUTHKIT_MAIL_FROM": "Accounts <accounts@example.test>",
        }
    )
    address = "Erin@Example.TEST"
    with httpx.Client(base_url=app.base_url, timeout=10) as client:
        signup = client.post(
            "/auth/signup", json={"username": "erin", "password": PASSWORD, "email": address}
        )
        assert (signup.status_code, signup.content) == (201, b"")
        verification = eventually(
            lambda: inbox.to("Erin@example.test", "Confirm your email address"),
            what="the verification mail",
        )[0]
        assert verification["From"] == "Accounts <accounts@example.test>"
        assert verification.get_body(("html",)) is not None
        page = client.get(_follow(app, _link(verification, "/auth/email/verify")))
        assert page.status_code == 200
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None
        verified = client.post("/auth/email/verify", data={"token": token[1]})
        assert verified.json()["emailVerified"] is True

        old = client.post("/auth/signin", json={"username": "erin", "password": PASSWORD})
        old_bearer = {"Authorization": f"Bearer {old.json()['accessToken']}"}
        forgot = client.post("/auth/password/forgot", json={"email": "erin@example.test"})
        stranger = client.post("/auth/password/forgot", json={"email": "nobody@example.test"})
        assert forgot.status_code == stranger.status_code == 202
        assert forgot.content == stranger.content
        reset_mail = eventually(
            lambda: inbox.to("Erin@example.test", "Reset your password"), what="the reset mail"
        )[0]
        link = _follow(app, _link(reset_mail, "/auth/password/reset"))
        form = client.get(link)
        assert form.status_code == 200 and 'type="password"' in form.text
        reset_token = re.search(r'name="token" value="([^"]+)"', form.text)
        assert reset_token is not None
        done = client.post(
            "/auth/password/reset", data={"token": reset_token[1], "password": NEW_PASSWORD}
        )
        assert done.status_code == 200, done.text

        assert client.get("/auth/me", headers=old_bearer).status_code == 401
        assert (
            client.post("/auth/signin", json={"username": "erin", "password": PASSWORD}).status_code
            == 401
        )
        new = client.post("/auth/signin", json={"username": "erin", "password": NEW_PASSWORD})
        assert new.status_code == 201
        me = client.get(
            "/auth/me", headers={"Authorization": f"Bearer {new.json()['accessToken']}"}
        )
        assert me.json()["username"] == "erin"
    # Nobody wrote to the stranger; the server log holds no token.
    assert inbox.to("nobody@example.test", "Reset your password") == []
    assert reset_token[1] not in app.stderr() and token[1] not in app.stderr()
