"""SMTP with TLS and AUTH, against a real server: aiosmtpd on 127.0.0.1, with a certificate
from a private CA made in the test (support/tls.py) and trusted through `?cafile=`.

STARTTLS then AUTH PLAIN or LOGIN, implicit TLS (smtps://), a wrong password (logged as
not sent, the password in no log line and no error), certificates that must be refused
(the system's trust store, another CA, another host name) and a server with no STARTTLS:
in each refusal the credentials never reach the server. Plain loopback SMTP and the URL's
other rules: tests/unit/test_mail.py.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from support.settings import make_settings
from support.tls import PrivateCA

from authkit.accounts.feature import mail_sender
from authkit.core.errors import ConfigError
from authkit.mail.message import MailMessage, MailNotSent
from authkit.mail.outbox import MailOutbox
from authkit.mail.settings import MailSettings
from authkit.mail.smtp import SMTPSender, SMTPServer, SMTPURLError
from authkit.settings.model import Secret
from authkit.storage.embedded import free_port

USER = "mailer@corp.example"
PASSWORD = "p@ss:w0rd/relay-secret-1"
WRONG = "wrong:pass@relay-secret-2"
NAMES = ["localhost", "127.0.0.1"]
MESSAGE = MailMessage(to="alice@example.com", subject="Hi", text="token-in-here", kind="test")
# Each exchange is over in well under a second on loopback; these bound a hang.
SOCKET_TIMEOUT, SEND_TIMEOUT = 5.0, 20.0


class Inbox:
    """The handler: what arrived, and whether it came over TLS."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.over_tls: list[bool] = []
        self.helo_names: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.over_tls.append(server.transport.get_extra_info("ssl_object") is not None)
        self.helo_names.append(session.host_name)
        return "250 OK"


class RelayAccount:
    """The authenticator: one account, and every login and password it was offered."""

    def __init__(self) -> None:
        self.offered: list[tuple[str, str, str]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.offered.append((mechanism, login, password))
        return AuthResult(success=(login, password) == (USER, PASSWORD), handled=False)


Serve = Callable[..., tuple[Inbox, RelayAccount, int]]


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCA:
    return PrivateCA.make(tmp_path / "ca")


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start an aiosmtpd server on 127.0.0.1 (keyword arguments go to aiosmtpd's SMTP)."""
    started: list[Controller] = []

    def start(**smtp: Any) -> tuple[Inbox, RelayAccount, int]:
        inbox, accounts, port = Inbox(), RelayAccount(), free_port()
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, authenticator=accounts, **smtp
        )
        controller.start()
        started.append(controller)
        return inbox, accounts, port

    yield start
    for controller in started:
        controller.stop()


def starttls_server(serve: Serve, context: Any, **smtp: Any) -> tuple[Inbox, RelayAccount, int]:
    """STARTTLS required, and AUTH required and offered only once TLS is up."""
    return serve(
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        **smtp,
    )


def url(scheme: str, port: int, password: str = PASSWORD, query: str = "") -> str:
    return f"{scheme}://{quote(USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}{query}"


async def send(address: str) -> None:
    server = SMTPServer.from_url(address, timeout=SOCKET_TIMEOUT)
    sender = SMTPSender(server, "a@example.com", helo_name="auth.example.com")
    await asyncio.wait_for(sender.send(MESSAGE), SEND_TIMEOUT)


# --- delivered ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_starttls_then_auth_delivers_with_the_urls_credentials(
    serve: Serve, ca: PrivateCA, mechanism: str
) -> None:
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    inbox, accounts, port = starttls_server(
        serve, ca.server_context(NAMES), auth_exclude_mechanism=[other]
    )
    await send(url("smtp", port, query=f"?cafile={quote(str(ca.cafile))}"))
    assert accounts.offered == [(mechanism, USER, PASSWORD)]
    (envelope,) = inbox.envelopes
    assert inbox.over_tls == [True]
    assert inbox.helo_names == ["auth.example.com"]  # its own name, not a resolver's answer
    assert envelope.rcpt_tos == ["alice@example.com"] and b"token-in-here" in envelope.content


@pytest.mark.anyio
async def test_implicit_tls_delivers_with_the_urls_credentials(serve: Serve, ca: PrivateCA) -> None:
    # aiosmtpd counts only STARTTLS as TLS for `auth_require_tls` (smtp_AUTH looks at its
    # STARTTLS protocol, not at the transport), so on an implicit-TLS server it would never
    # offer AUTH; the connection is TLS from its first byte all the same (over_tls below).
    inbox, accounts, port = serve(ssl_context=ca.server_context(NAMES), auth_require_tls=False)
    await send(url("smtps", port, query=f"?cafile={ca.cafile}"))
    assert accounts.offered == [("PLAIN", USER, PASSWORD)]
    assert inbox.over_tls == [True] and len(inbox.envelopes) == 1


# --- refused --------------------------------------------------------------------------


def all_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        f"{r.name} {r.getMessage()} {getattr(r, 'fields', '')} {r.exc_text or ''}"
        for r in caplog.records
    )


@pytest.mark.anyio
async def test_a_wrong_password_is_logged_as_not_sent_and_written_nowhere(
    serve: Serve, ca: PrivateCA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, accounts, port = starttls_server(serve, ca.server_context(NAMES))
    address = url("smtp", port, password=WRONG, query=f"?cafile={ca.cafile}")
    settings = make_settings(mail=MailSettings(smtp_url=Secret(address), timeout=5))
    outbox = MailOutbox(mail_sender(settings), timeout_seconds=SEND_TIMEOUT)
    outbox.post(MESSAGE, user_id="u1")
    await asyncio.wait_for(outbox.drain(), SEND_TIMEOUT + 5)
    with pytest.raises(MailNotSent) as refused:
        await send(address)
    # It reached the server (smtplib tries each mechanism offered in turn).
    assert {o[1:] for o in accounts.offered} == {(USER, WRONG)}
    (failure,) = [r for r in caplog.records if r.getMessage() == "mail not sent"]
    assert "SMTPAuthenticationError 535" in failure.fields["reason"]  # type: ignore[attr-defined]
    assert "SMTPAuthenticationError 535" in str(refused.value)
    plain_blob = base64.b64encode(f"\0{USER}\0{WRONG}".encode()).decode()
    written = all_logged(caplog) + "\n" + str(refused.value) + repr(refused.value)
    for form in (WRONG, quote(WRONG, safe=""), plain_blob, base64.b64encode(WRONG.encode())):
        assert str(form) not in written


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("scheme", "trust", "names", "why"),
    [
        ("smtp", "system", NAMES, "unable to get local issuer"),
        ("smtp", "other CA", NAMES, "unable to get local issuer"),
        ("smtps", "other CA", NAMES, "unable to get local issuer"),
        ("smtp", "our CA", ["mail.example.com"], "mismatch"),
        ("smtps", "our CA", ["mail.example.com"], "mismatch"),
    ],
    ids=[
        "starttls-system-store",
        "starttls-other-ca",
        "smtps-other-ca",
        "starttls-name",
        "smtps-name",
    ],
)
async def test_a_certificate_that_is_not_trusted_is_refused_before_any_credential(
    serve: Serve, ca: PrivateCA, tmp_path: Path, scheme: str, trust: str, names: list[str], why: str
) -> None:
    context = ca.server_context(names)
    if scheme == "smtp":
        inbox, accounts, port = starttls_server(serve, context)
    else:
        inbox, accounts, port = serve(ssl_context=context, auth_require_tls=False)
    cafile = {
        "system": None,
        "other CA": PrivateCA.make(tmp_path / "other", "another CA").cafile,
        "our CA": ca.cafile,
    }[trust]
    query = "" if cafile is None else f"?cafile={cafile}"
    with pytest.raises(
        MailNotSent, match="SSLCertVerificationError: certificate refused"
    ) as refused:
        await send(url(scheme, port, query=query))
    assert why in str(refused.value).lower()
    assert accounts.offered == [] and inbox.envelopes == []


@pytest.mark.anyio
async def test_required_starttls_not_offered_is_refused_before_any_credential(
    serve: Serve,
) -> None:
    # AUTH offered in clear (what a misconfigured relay does): it must not be used.
    inbox, accounts, port = serve(auth_require_tls=False)
    with pytest.raises(MailNotSent, match="does not offer STARTTLS, which the URL requires"):
        await send(url("smtp", port))
    assert accounts.offered == [] and inbox.envelopes == []


# --- the cafile option ----------------------------------------------------------------


def test_cafile_is_kept_and_described(ca: PrivateCA) -> None:
    server = SMTPServer.from_url(f"smtps://u:p@relay.corp?cafile={quote(str(ca.cafile))}")
    assert server.cafile == str(ca.cafile)
    assert server.describe() == f"relay.corp:465 (tls: implicit, auth, cafile {ca.cafile})"
    assert SMTPServer.from_url("smtp://relay.corp").cafile is None


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?cafile=", "cafile must name a PEM file"),
        ("?cafile={missing}", "No such file"),
        ("?cafile={not_pem}", "cannot be used as CA certificates"),
        ("?cafile={ca}&starttls=false", "cafile needs TLS"),
        ("?ca={ca}", "the known ones are cafile, starttls"),
        ("?starttls=", "starttls must be"),
    ],
)
def test_a_cafile_that_cannot_work_stops_the_start(
    ca: PrivateCA, tmp_path: Path, query: str, reason: str
) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("not a certificate\n")
    query = query.format(missing=tmp_path / "missing.pem", not_pem=not_pem, ca=ca.cafile)
    with pytest.raises(SMTPURLError, match=reason):
        SMTPServer.from_url(f"smtp://127.0.0.1:2525{query}")
    settings = make_settings(mail=MailSettings(smtp_url=Secret(f"smtp://h.example{query}")))
    with pytest.raises(ConfigError, match="AUTHKIT_SMTP_URL"):
        mail_sender(settings)


def test_a_user_with_no_password_is_refused() -> None:
    with pytest.raises(SMTPURLError, match="no password"):
        SMTPServer.from_url("smtps://mailer@relay.corp")
    assert SMTPServer.from_url("smtps://mailer:@relay.corp").password == Secret("")
