"""The mail accounts send: a link built from AUTHKIT_PUBLIC_URL, rendered, and queued.

Links are `<public URL>/auth/email/verify?token=...` and
`<public URL>/auth/password/reset?token=...`: pages of authkit's own that post the
token back (authkit.accounts.pages), so a mail scanner that opens every link
confirms and resets nothing. They are never built from the request's Host header,
which the client chooses: a forged Host would otherwise send a victim a reset link
to the attacker's site (the token with it).

Example:

    from datetime import timedelta

    from authkit.mail.dev import LogSender
    from authkit.mail.outbox import MailOutbox
    from authkit.mail.templates import MailTemplates

    mailer = AccountMailer(MailOutbox(LogSender()), MailTemplates(), "https://auth.example.com")
    mailer.require_public_url()          # MailNotConfigured (503) without one
    user = await store.create("alice", "$2b$04$" + "x" * 53)
    mailer.send("verify_email", user, "alice@example.com", "t" * 43, timedelta(hours=24))
    mailer.send_notice("email_in_use", user, "bob@example.com")   # bob's verified address
    await mailer.outbox.drain()          # the development sender logged it
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import attrs

from authkit.core.errors import ConfigError, HTTPError
from authkit.mail.message import MailMessage
from authkit.mail.outbox import MailOutbox
from authkit.mail.templates import MailTemplates
from authkit.users.store import User

__all__ = ["LINK_PATHS", "AccountMailer", "MailNotConfigured", "checked_public_url"]

LINK_PATHS = {"verify_email": "/auth/email/verify", "reset_password": "/auth/password/reset"}


class MailNotConfigured(HTTPError):
    status_code = 503
    error = "Service Unavailable"
    default_message = (
        "Mail is not configured: AUTHKIT_PUBLIC_URL is not set, so no link can be sent"
    )


def checked_public_url(url: str | None) -> str | None:
    """AUTHKIT_PUBLIC_URL without its trailing slash; ConfigError unless it is an absolute
    http(s) URL with no query or fragment."""
    if url is None or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            "AUTHKIT_PUBLIC_URL must be an absolute http(s) URL such as "
            f"https://auth.example.com, with no query or fragment (got {url!r})"
        )
    return url.strip().rstrip("/")


@attrs.frozen
class AccountMailer:
    outbox: MailOutbox
    templates: MailTemplates
    public_url: str | None

    def require_public_url(self) -> str:
        if self.public_url is None:
            raise MailNotConfigured()
        return self.public_url

    def send(self, kind: str, user: User, to: str, token: str, ttl: timedelta) -> None:
        link = f"{self.require_public_url()}{LINK_PATHS[kind]}?{urlencode({'token': token})}"
        minutes = str(int(ttl.total_seconds() // 60))
        self._post(kind, user, to, {"link": link, "token": token, "minutes": minutes})

    def send_notice(self, kind: str, user: User, to: str) -> None:
        """A mail with no token in it: `email_in_use` (to the owner of the verified address
        `to`, which `user` asked for; nothing changed) or `password_changed` (to `user`'s
        verified address, after their password was changed, reset or first set)."""
        self._post(kind, user, to, {"link": self.require_public_url()})

    def _post(self, kind: str, user: User, to: str, more: dict[str, str]) -> None:
        values = {"username": user.username, "email": to, "token": "", "minutes": "", **more}
        subject, text, html = self.templates.render(kind, values)
        message = MailMessage(to=to, subject=subject, text=text, html=html, kind=kind)
        self.outbox.post(message, user_id=user.id)
