"""SMTP delivery, from one URL: `AUTHKIT_SMTP_URL`.

    smtp://user:pass@mail.example.com:587        STARTTLS (required), then AUTH
    smtp://mail.example.com:25?starttls=false    no TLS at all: loopback relays only
    smtps://user:pass@mail.example.com:465       TLS from the first byte (implicit TLS)

User and password are percent-decoded (`%40` for `@`). The certificate is checked
against the system's trust store and the host name. Credentials are refused over a
connection with no TLS unless the server is on loopback: a password sent in clear
over a network is a password given away. The password lives in a `Secret` and is
in no log or error message.

Sending uses the standard library's smtplib in a worker thread: mail goes out in the
background (authkit.mail.outbox), one connection per message, so an asyncio client
would buy nothing that is worth a dependency.

Example:

    server = SMTPServer.from_url("smtps://app:p%40ss@mail.example.com")
    server.describe()              # mail.example.com:465 (tls: implicit, auth)
    sender = SMTPSender(server, "noreply@example.com")
    # then: await sender.send(MailMessage(to="alice@example.com", subject="Hi", text="Hello"))
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
from starlette.concurrency import run_in_threadpool

from authkit.core.values import Secret
from authkit.mail.message import MailMessage, MailNotSent

__all__ = ["SMTPSender", "SMTPServer", "SMTPURLError"]

_DEFAULT_PORTS = {("smtps", True): 465, ("smtp", True): 587, ("smtp", False): 25}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


class SMTPURLError(ValueError):
    """AUTHKIT_SMTP_URL does not say how to reach a mail server."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.frozen
class SMTPServer:
    host: str
    port: int
    # "implicit" (smtps), "starttls", or "none" (loopback only when credentials are sent).
    tls: str
    user: str | None = None
    password: Secret | None = None
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 10.0) -> SMTPServer:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise SMTPURLError(f"not a URL ({exc})") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise SMTPURLError("the scheme must be smtp:// or smtps://")
        if not parts.hostname:
            raise SMTPURLError("it names no host")
        options = parse_qs(parts.query)
        unknown = sorted(set(options) - {"starttls"})
        if unknown:
            raise SMTPURLError(f"unknown option(s) {', '.join(unknown)}; the one known is starttls")
        starttls = (options.get("starttls") or ["true"])[-1].lower()
        if starttls not in _TRUE + _FALSE:
            raise SMTPURLError("starttls must be true or false")
        implicit = parts.scheme == "smtps"
        # smtps:// is TLS from the start, whatever starttls says.
        tls = "implicit" if implicit else "starttls" if starttls in _TRUE else "none"
        user = unquote(parts.username) if parts.username else None
        password = Secret(unquote(parts.password)) if parts.password is not None else None
        if tls == "none" and user is not None and not _is_loopback(parts.hostname):
            raise SMTPURLError(
                "credentials over a connection with no TLS are only allowed to a loopback "
                "server; use smtps:// or drop starttls=false"
            )
        default_port = _DEFAULT_PORTS[(parts.scheme, tls != "none")]
        return cls(parts.hostname, port or default_port, tls, user, password, timeout)

    def describe(self) -> str:
        """Where mail goes, for logs: no credentials."""
        return f"{self.host}:{self.port} (tls: {self.tls}{', auth' if self.user else ''})"


@attrs.frozen
class SMTPSender:
    server: SMTPServer
    sender: str

    async def send(self, message: MailMessage) -> None:
        await run_in_threadpool(self._send, message)

    def _send(self, message: MailMessage) -> None:
        server = self.server
        context = ssl.create_default_context()
        try:
            if server.tls == "implicit":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=server.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
            with smtp:
                if server.tls == "starttls":
                    smtp.starttls(context=context)
                if server.user is not None:
                    secret = server.password.value if server.password is not None else ""
                    smtp.login(server.user, secret)
                smtp.send_message(message.to_email(self.sender))
        except (smtplib.SMTPException, OSError) as exc:
            # The exception's type and the server's code only: its text may quote the message.
            code = getattr(exc, "smtp_code", None)
            detail = type(exc).__name__ + (f" {code}" if code else "")
            raise MailNotSent(f"{server.describe()}: {detail}") from None
