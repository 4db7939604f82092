"""The outbox: mail handed over in the background, so no answer waits for a mail server.

A route that sends mail answers as soon as the message is queued: a slow or absent
mail server costs the client nothing, and forgot-password answers in the same time
whether or not there was anyone to write to (docs/security.md). Each message is one
asyncio task, bounded by a timeout; a failure is logged (kind and reason, never the
body or address) and never reaches the request, which has been answered.

Example:

    from authkit.mail.dev import LogSender
    from authkit.mail.message import MailMessage

    outbox = MailOutbox(LogSender())
    outbox.post(MailMessage(to="alice@example.com", subject="Hi", text="Hello"))
    await outbox.drain()
"""

from __future__ import annotations

import asyncio
import logging

from authkit.mail.message import MailMessage, MailNotSent, MailSender

__all__ = ["MailOutbox"]

logger = logging.getLogger("authkit.mail")


class MailOutbox:
    def __init__(self, sender: MailSender, *, timeout_seconds: float = 60.0) -> None:
        self.sender = sender
        self._timeout = timeout_seconds
        # Held until done: the event loop keeps only weak references to tasks.
        self._pending: set[asyncio.Task[None]] = set()

    def post(self, message: MailMessage, *, user_id: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(message, user_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(self, message: MailMessage, user_id: str | None) -> None:
        fields: dict[str, object] = {"kind": message.kind, "user_id": user_id}
        try:
            await asyncio.wait_for(self.sender.send(message), self._timeout)
        except asyncio.TimeoutError:
            logger.error("mail not sent", extra={"fields": {**fields, "reason": "timeout"}})
        except MailNotSent as exc:
            logger.error("mail not sent", extra={"fields": {**fields, "reason": str(exc)}})
        except Exception as exc:
            # A sender of a plugin's: whatever it raises stays here, the request is answered.
            logger.error(
                "mail not sent", extra={"fields": {**fields, "reason": type(exc).__name__}}
            )
        else:
            logger.info("mail sent", extra={"fields": {"event": "mail_sent", **fields}})

    async def drain(self) -> None:
        """Wait for every message queued so far (tests, and an orderly stop)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def close(self) -> None:
        """Give up on what is still queued (the application stops)."""
        for task in list(self._pending):
            task.cancel()
