"""Mail: the SMTP URL, the senders, the templates, the outbox, and email canonicalisation.
SMTP delivery itself goes to a real server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from support.settings import make_settings

from authkit import create_app
from authkit.accounts.feature import mail_sender
from authkit.core.errors import ConfigError
from authkit.http.settings import ServerSettings
from authkit.mail.dev import LogSender
from authkit.mail.message import MailMessage, MailNotSent
from authkit.mail.outbox import MailOutbox
from authkit.mail.settings import MailSettings
from authkit.mail.smtp import SMTPSender, SMTPServer, SMTPURLError
from authkit.mail.templates import PLACEHOLDERS, MailTemplates
from authkit.settings.model import Secret
from authkit.storage.embedded import free_port
from authkit.users.emails import EmailRefused, canonical_email, email_key

MESSAGE = MailMessage(
    to="alice@example.com", subject="Hi", text="token-in-here", html="<p>x</p>", kind="test"
)

# --- the URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "user", "password"),
    [
        ("smtp://u:p@mail.example.com", "mail.example.com", 587, "starttls", "u", "p"),
        (
            "smtp://mail.example.com:2525?starttls=true",
            "mail.example.com",
            2525,
            "starttls",
            None,
            None,
        ),
        (
            "smtps://app%40corp:p%3Ass@mail.example.com",
            "mail.example.com",
            465,
            "implicit",
            "app@corp",
            "p:ss",
        ),
        (
            "smtps://mail.example.com?starttls=false",
            "mail.example.com",
            465,
            "implicit",
            None,
            None,
        ),
        ("smtp://127.0.0.1?starttls=false", "127.0.0.1", 25, "none", None, None),
        ("smtp://u:p@localhost:1025?starttls=false", "localhost", 1025, "none", "u", "p"),
    ],
)
def test_one_url_says_where_and_how(
    url: str, host: str, port: int, tls: str, user: str | None, password: str | None
) -> None:
    server = SMTPServer.from_url(url)
    assert (server.host, server.port, server.tls, server.user) == (host, port, tls, user)
    assert (server.password.value if server.password else None) == password


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mail.example.com", "scheme"),
        ("smtp://", "no host"),
        ("smtp://mail.example.com?tls=yes", "unknown option"),
        ("smtp://mail.example.com?starttls=maybe", "starttls must be"),
        ("smtp://u:p@mail.example.com?starttls=false", "loopback"),
        ("smtp://mail.example.com:99999", "not a URL"),
        ("smtp://:secret@mail.example.com", "a password but no user"),
    ],
)
def test_a_url_that_cannot_work_is_refused_with_a_reason(url: str, reason: str) -> None:
    with pytest.raises(SMTPURLError, match=reason):
        SMTPServer.from_url(url)


def test_the_password_is_in_no_repr_description_or_start_up_error(
    make_client: Any, caplog: pytest.LogCaptureFixture, db: Any
) -> None:
    server = SMTPServer.from_url("smtps://user:hunter2-secret@mail.example.com")
    assert "hunter2" not in repr(server) and "hunter2" not in server.describe()
    caplog.set_level(logging.DEBUG)
    make_client(
        make_settings(mail=MailSettings(smtp_url=Secret("smtps://u:hunter2-secret@h.example")))
    )
    with pytest.raises(ConfigError) as refused:
        create_app(
            make_settings(
                mail=MailSettings(
                    smtp_url=Secret("smtp://u:hunter2-secret@x.example?starttls=false")
                )
            )
        )
    assert "hunter2" not in str(refused.value) and "hunter2" not in caplog.text


def test_a_bad_public_url_stops_the_start(db: Any) -> None:
    for url in ("auth.example.com", "ftp://auth.example.com", "https://a.example/?x=1"):
        with pytest.raises(ConfigError, match="AUTHKIT_PUBLIC_URL"):
            create_app(make_settings(server=ServerSettings(public_url=url)), database=db)


# --- SMTP delivery, to a real server on loopback ---------------------------------------


class Received:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    received, port = Received(), free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    yield received, port
    controller.stop()


@pytest.mark.anyio
async def test_smtp_delivers_text_and_html(smtp_server: Any) -> None:
    received, port = smtp_server
    sender = SMTPSender(
        SMTPServer.from_url(f"smtp://127.0.0.1:{port}?starttls=false"), "a@example.com"
    )
    await sender.send(MESSAGE)
    (envelope,) = received.envelopes
    assert envelope.rcpt_tos == ["alice@example.com"]
    content = envelope.content.decode()
    assert "token-in-here" in content and "text/html" in content and "Message-ID:" in content


@pytest.mark.anyio
async def test_starttls_is_required_not_skipped_when_the_server_offers_none(
    smtp_server: Any,
) -> None:
    received, port = smtp_server
    sender = SMTPSender(SMTPServer.from_url(f"smtp://127.0.0.1:{port}"), "a@example.com")
    with pytest.raises(MailNotSent, match="does not offer STARTTLS"):
        await sender.send(MESSAGE)
    assert received.envelopes == []


@pytest.mark.anyio
async def test_an_unreachable_server_is_mail_not_sent() -> None:
    sender = SMTPSender(
        SMTPServer.from_url(f"smtp://127.0.0.1:{free_port()}?starttls=false", timeout=2),
        "a@x.example",
    )
    with pytest.raises(MailNotSent):
        await sender.send(MESSAGE)


# --- the development sender and the outbox ---------------------------------------------


@pytest.mark.anyio
async def test_the_development_sender_logs_the_whole_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="authkit.mail")
    await LogSender().send(MESSAGE)
    assert "token-in-here" in caplog.text and "alice@example.com" in caplog.text


class Failing:
    async def send(self, message: MailMessage) -> None:
        raise MailNotSent("mail.example.com:587 (tls: starttls): SMTPRecipientsRefused")


class Broken:
    async def send(self, message: MailMessage) -> None:
        raise RuntimeError(message.text)


@pytest.mark.anyio
async def test_a_failed_mail_is_logged_without_its_body(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="authkit.mail")
    for sender in (Failing(), Broken()):
        outbox = MailOutbox(sender)
        outbox.post(MESSAGE, user_id="u1")
        await outbox.drain()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and "token-in-here" not in caplog.text
    assert [r.fields["reason"] for r in errors][1] == "RuntimeError"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_a_slow_server_costs_the_outbox_its_timeout_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Hanging:
        async def send(self, message: MailMessage) -> None:
            await asyncio.sleep(60)

    outbox = MailOutbox(Hanging(), timeout_seconds=0.05)
    outbox.post(MESSAGE)
    await asyncio.wait_for(outbox.drain(), 5)
    assert "timeout" in str([getattr(r, "fields", {}) for r in caplog.records])


# --- templates -------------------------------------------------------------------------


def test_an_operator_folder_replaces_some_templates_and_html_is_escaped(tmp_path: Path) -> None:
    (tmp_path / "verify_email.subject").write_text("Bitte bestätigen\nInjected: header")
    (tmp_path / "verify_email.html").write_text("<b>$username</b> $link")
    templates = MailTemplates(tmp_path)
    templates.check()
    values = dict.fromkeys(PLACEHOLDERS, "x") | {"username": "<i>eve</i>"}
    subject, text, html = templates.render("verify_email", values)
    assert subject == "Bitte bestätigen Injected: header"  # one line: no header injection
    assert html == "<b>&lt;i&gt;eve&lt;/i&gt;</b> x"
    assert "<i>eve</i>" in text  # the packaged plain-text body, unescaped
    (tmp_path / "reset_password.html").write_text("  \n")
    # Read once: the change is seen by templates made after it (a restart), not before.
    assert templates.render("reset_password", values)[2] is not None
    assert MailTemplates(tmp_path).render("reset_password", values)[2] is None  # text only


def test_a_template_with_an_unknown_placeholder_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "reset_password.txt").write_text("Hi $name")
    with pytest.raises(ConfigError, match="reset_password"):
        MailTemplates(tmp_path).check()
    with pytest.raises(ConfigError, match="not a folder"):
        MailTemplates(tmp_path / "missing").check()


# --- addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        (" Alice@EXAMPLE.com ", "Alice@example.com"),
        ("x@MÜNCHEN.de", "x@münchen.de"),
        ("e\u0301@example.com", "\u00e9@example.com"),  # NFC
        ("a+tag@example.com.", "a+tag@example.com"),
    ],
)
def test_addresses_are_kept_in_one_canonical_form(typed: str, canonical: str) -> None:
    assert canonical_email(typed) == canonical


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "plain",
        "a@b",
        "@example.com",
        "a@",
        "a@@example.com",
        "a b@example.com",
        '"a"@example.com',
        "a..b@example.com",
        ".a@example.com",
        "a@-x.example",
        "a@x..example",
        "a@1.2.3.4",
        "a\u0000@example.com",
        "a\u200b@example.com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
        "\ud800@example.com",
        None,
        7,
        ["a@example.com"],
    ],
)
def test_garbage_is_refused(garbage: Any) -> None:
    with pytest.raises(EmailRefused):
        canonical_email(garbage)


def test_the_unique_key_ignores_case() -> None:
    assert email_key("Alice@example.com") == email_key("ALICE@example.com") == "alice@example.com"


def test_the_smtp_sender_names_itself_by_the_public_host_in_ehlo() -> None:
    smtp = MailSettings(smtp_url=Secret("smtp://127.0.0.1:2525?starttls=false"))
    public = ServerSettings(public_url="https://auth.example.com/")
    sender = mail_sender(make_settings(server=public, mail=smtp))
    assert isinstance(sender, SMTPSender) and sender.helo_name == "auth.example.com"
    without = mail_sender(make_settings(mail=smtp))
    assert isinstance(without, SMTPSender) and without.helo_name == "localhost"
