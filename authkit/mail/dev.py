"""The development sender: every message written to the log, whole, link and token included.

It is the default when AUTHKIT_SMTP_URL is not set, so `authkit serve` works with no
mail server: the verification or reset link is read off the console. Writing the
link down is the one exception to "no token is ever logged", and the reason this
sender must never run in production: `create_app` says so in a warning at start,
and docs/accounts.md says so too.

Example:

    from authkit.mail.message import MailMessage

    await LogSender().send(MailMessage(to="alice@example.com", subject="Hi", text="..."))
"""

from __future__ import annotations

import logging

from authkit.mail.message import MailMessage

__all__ = ["LogSender"]

logger = logging.getLogger("authkit.mail")

STARTUP_WARNING = (
    "AUTHKIT_SMTP_URL is not set: mail is not sent but written to this log, links and "
    "their tokens included (anyone who reads the log can reset passwords); set "
    "AUTHKIT_SMTP_URL in production"
)


class LogSender:
    async def send(self, message: MailMessage) -> None:
        logger.warning(
            "mail not sent (development sender): %s to %s\n%s",
            message.subject,
            message.to,
            message.text,
            extra={"fields": {"event": "mail_logged", "kind": message.kind}},
        )
