"""SMTP delivery, from one URL: `AUTHKIT_SMTP_URL`.

    smtp://user:pass@mail.example.com:587        STARTTLS (required), then AUTH
    smtp://mail.example.com:25?starttls=false    no TLS at all: loopback relays only
    smtps://user:pass@mail.example.com:465       TLS from the first byte (implicit TLS)
    smtp://relay.corp:587?cafile=/etc/authkit/relay-ca.pem   a relay with a private CA

User and password are percent-decoded (`%40` for `@`). The certificate is checked
against the system's trust store and the host name; with `cafile` (a PEM file of one or
more CA certificates) against those certificates instead of the system's, for a relay
whose certificate an internal CA signed. The host name is checked either way: a
certificate the CA gave another host is refused. The file is read at start-up (an
unreadable one stops it) and again for each message, so a renewed CA file needs no
restart. Credentials are refused over a connection with no TLS unless the server is on
loopback: a password sent in clear over a network is a password given away. The
password lives in a `Secret` and is in no log or error message.

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
_OPTIONS = ("cafile", "starttls")


class SMTPURLError(ValueError):
    """AUTHKIT_SMTP_URL does not say how to reach a mail server."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_context(cafile: str | None) -> ssl.SSLContext:
    # create_default_context verifies the chain and the host name (check_hostname). Given a
    # cafile it trusts those certificates only, not the system's as well: the operator who
    # names the relay's CA says which CA that relay's certificate comes from.
    return ssl.create_default_context(cafile=cafile)


def _checked_cafile(cafile: str) -> str:
    if not cafile:
        raise SMTPURLError("cafile must name a PEM file of CA certificates")
    try:
        _tls_context(cafile)
    except (OSError, ValueError) as exc:
        # OSError: no such file, or (ssl.SSLError) a file that holds no certificate.
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        raise SMTPURLError(
            f"cafile {cafile!r} cannot be used as CA certificates ({reason})"
        ) from None
    return cafile


@attrs.frozen
class SMTPServer:
    host: str
    port: int
    # "implicit" (smtps), "starttls", or "none" (loopback only when credentials are sent).
    tls: str
    user: str | None = None
    password: Secret | None = None
    timeout: float = 10.0
    # PEM CA certificates that replace the system's trust store (`?cafile=`).
    cafile: str | None = None

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
        # Blank values kept: `?cafile=` is a mistake to report, not an option to drop.
        options = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise SMTPURLError(
                f"unknown option(s) {', '.join(unknown)}; the known ones are {', '.join(_OPTIONS)}"
            )
        starttls = (options.get("starttls") or ["true"])[-1].lower()
        if starttls not in _TRUE + _FALSE:
            raise SMTPURLError("starttls must be true or false")
        implicit = parts.scheme == "smtps"
        # smtps:// is TLS from the start, whatever starttls says.
        tls = "implicit" if implicit else "starttls" if starttls in _TRUE else "none"
        user = unquote(parts.username) if parts.username else None
        password = Secret(unquote(parts.password)) if parts.password is not None else None
        if user is not None and password is None:
            raise SMTPURLError("it names a user but no password (smtp://user:password@host)")
        if user is None and parts.password:
            raise SMTPURLError("it names a password but no user (smtp://user:password@host)")
        if tls == "none" and user is not None and not _is_loopback(parts.hostname):
            raise SMTPURLError(
                "credentials over a connection with no TLS are only allowed to a loopback "
                "server; use smtps:// or drop starttls=false"
            )
        cafile = None
        if "cafile" in options:
            if tls == "none":
                raise SMTPURLError("cafile needs TLS: use smtps:// or drop starttls=false")
            cafile = _checked_cafile(options["cafile"][-1])
        default_port = _DEFAULT_PORTS[(parts.scheme, tls != "none")]
        return cls(parts.hostname, port or default_port, tls, user, password, timeout, cafile)

    def describe(self) -> str:
        """Where mail goes, for logs: no credentials."""
        extra = (", auth" if self.user else "") + (f", cafile {self.cafile}" if self.cafile else "")
        return f"{self.host}:{self.port} (tls: {self.tls}{extra})"


def _reason(exc: Exception) -> str:
    """What went wrong, for the log: the exception's type, the server's code, and why a
    certificate was refused. Never the exception's text, which may quote the message or
    what the server said back to AUTH."""
    code = getattr(exc, "smtp_code", None)
    detail = type(exc).__name__ + (f" {code}" if code else "")
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        # OpenSSL's own words: "self-signed certificate", "Hostname mismatch, ...".
        detail += f": certificate refused ({exc.verify_message})"
    elif isinstance(exc, ssl.SSLError) and exc.reason:
        detail += f" ({exc.reason})"  # WRONG_VERSION_NUMBER: smtps:// to a plain server
    return detail


@attrs.frozen
class SMTPSender:
    server: SMTPServer
    sender: str
    # The name this host gives in EHLO. smtplib's default asks the resolver for the
    # machine's own name (socket.getfqdn) outside any timeout, which hangs a mail thread
    # where DNS does: authkit names itself by its public host instead.
    helo_name: str = "localhost"

    async def send(self, message: MailMessage) -> None:
        await run_in_threadpool(self._send, message)

    def _send(self, message: MailMessage) -> None:
        server = self.server
        where = server.describe()
        try:
            context = _tls_context(server.cafile)
            if server.tls == "implicit":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host,
                    server.port,
                    local_hostname=self.helo_name,
                    timeout=server.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    server.host, server.port, local_hostname=self.helo_name, timeout=server.timeout
                )
            with smtp:
                if server.tls == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        raise MailNotSent(
                            f"{where}: the server does not offer STARTTLS, which the URL "
                            "requires (smtps:// for implicit TLS; starttls=false only for a "
                            "loopback relay)"
                        )
                    smtp.starttls(context=context)
                if server.user is not None:
                    smtp.ehlo_or_helo_if_needed()
                    if not smtp.has_extn("auth"):
                        raise MailNotSent(
                            f"{where}: the server offers no AUTH, and the URL has credentials"
                        )
                    secret = server.password.value if server.password is not None else ""
                    smtp.login(server.user, secret)
                smtp.send_message(message.to_email(self.sender))
        except (smtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"{where}: {_reason(exc)}") from None
