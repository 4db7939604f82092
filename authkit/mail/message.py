"""A mail message and the protocol every sender follows.

A sender only delivers: what the message says is built from templates
(authkit.mail.templates) and when it is sent is the outbox's business
(authkit.mail.outbox). A sender raises `MailNotSent` when the message was not
accepted; the outbox logs that, and the request that asked for the mail has
already been answered.

Example:

    from authkit.mail.dev import LogSender

    message = MailMessage(to="alice@example.com", subject="Hi", text="Hello", html=None)
    await LogSender().send(message)
    message.to_email("noreply@example.com")["Subject"]       # Hi
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

import attrs

__all__ = ["MailMessage", "MailNotSent", "MailSender"]


class MailNotSent(Exception):
    """The mail server refused the message, or could not be reached."""


@attrs.frozen
class MailMessage:
    to: str
    subject: str
    # Holds the link and its token: never logged, except by the development sender.
    text: str = attrs.field(repr=False)
    html: str | None = attrs.field(default=None, repr=False)
    # What the mail is for (`verify_email`, `reset_password`), for logs and metrics.
    kind: str = "mail"

    def to_email(self, sender: str) -> EmailMessage:
        """The RFC 5322 message: plain text, with an HTML alternative when there is one."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Subject"] = self.subject
        domain = sender.rpartition("@")[2].strip("> ") or None
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(self.text)
        if self.html is not None:
            message.add_alternative(self.html, subtype="html")
        return message


class MailSender(Protocol):
    async def send(self, message: MailMessage) -> None:
        """Deliver `message`, or raise MailNotSent."""
