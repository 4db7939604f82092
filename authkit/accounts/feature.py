"""The accounts capability (email side) as a Feature: its routes, the indexes of its mail
tokens and mail counts, and the outbox given up at shutdown; `build_accounts` makes its
objects from the settings, the mail sender included."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import attrs
from pymongo.database import Database

from authkit.accounts.mailer import AccountMailer, checked_public_url
from authkit.accounts.recovery import PasswordService
from authkit.accounts.routes import account_routes
from authkit.accounts.service import EmailService, MailLimits
from authkit.accounts.store import RELATED, AccountRecords
from authkit.accounts.tokens import MailTokens
from authkit.core.errors import ConfigError
from authkit.core.feature import Feature
from authkit.mail.dev import STARTUP_WARNING, LogSender
from authkit.mail.message import MailSender
from authkit.mail.outbox import MailOutbox
from authkit.mail.smtp import SMTPSender, SMTPServer, SMTPURLError
from authkit.mail.templates import MailTemplates
from authkit.passwords.service import AuthService
from authkit.passwords.signup_limit import SignupLimit
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery
from authkit.settings.model import Settings
from authkit.users.store import MongoUserStore

__all__ = [
    "Accounts",
    "MailSetup",
    "accounts_feature",
    "build_accounts",
    "mail_sender",
    "mail_setup",
]

logger = logging.getLogger("authkit.mail")


@attrs.frozen
class Accounts:
    emails: EmailService
    passwords: PasswordService
    tokens: MailTokens
    limits: MailLimits
    outbox: MailOutbox


def mail_sender(settings: Settings) -> MailSender:
    """SMTP when AUTHKIT_SMTP_URL is set (ConfigError if it cannot be), else the log."""
    mail = settings.mail
    if mail.smtp_url is None:
        logger.warning(STARTUP_WARNING)
        return LogSender()
    try:
        server = SMTPServer.from_url(mail.smtp_url.value, timeout=float(mail.timeout))
    except SMTPURLError as exc:
        raise ConfigError(f"AUTHKIT_SMTP_URL: {exc}") from None
    logger.info("mail goes to %s", server.describe())
    public = settings.server.public_url
    helo = urlsplit(public).hostname if public else None
    return SMTPSender(server, mail.sender, helo_name=helo or "localhost")


@attrs.frozen
class MailSetup:
    """What mail needs from the settings, checked: made before any connection is opened,
    so a mistake in them stops the start at once."""

    sender: MailSender
    templates: MailTemplates
    public_url: str | None


def mail_setup(settings: Settings, sender: MailSender | None = None) -> MailSetup:
    """The sender (`sender`, or the one the settings name), the templates and the public
    URL; ConfigError when any of them cannot work."""
    templates = MailTemplates(settings.mail.templates)
    templates.check()
    public_url = checked_public_url(settings.server.public_url)
    return MailSetup(sender or mail_sender(settings), templates, public_url)


def build_accounts(
    settings: Settings,
    database: Database[dict[str, Any]],
    users: MongoUserStore,
    auth: AuthService,
    lifecycle: TokenLifecycle,
    *,
    mail: MailSetup | None = None,
) -> Accounts:
    """The accounts capability's objects; `mail` from `mail_setup` (made from `settings`
    when not given)."""
    mail = mail or mail_setup(settings)
    outbox = MailOutbox(mail.sender, timeout_seconds=settings.mail.timeout)
    mailer = AccountMailer(outbox, mail.templates, mail.public_url)
    related = [(database[name], field) for name, field in RELATED]
    records = AccountRecords(database["users"], related)
    tokens = MailTokens(database["account_tokens"])
    counts = database["mail_counts"]
    accounts = settings.accounts
    limits = MailLimits(
        per_recipient=SignupLimit(
            counts, accounts.mail_per_recipient, refusal="Too many mails to this recipient"
        ),
        per_client=SignupLimit(
            counts, accounts.mail_per_client, refusal="Too many mail requests from this address"
        ),
    )
    emails = EmailService(users, records, tokens, mailer, limits, accounts, events=auth.events)
    passwords = PasswordService(auth, users, records, tokens, mailer, limits, lifecycle, accounts)
    return Accounts(emails, passwords, tokens, limits, outbox)


def accounts_feature(
    accounts: Accounts,
    delivery: RefreshDelivery,
    *,
    max_body_bytes: int,
    second_factors: Callable[[str], Awaitable[list[str]]] | None = None,
) -> Feature:
    return Feature(
        "accounts",
        routes=account_routes(
            accounts.emails,
            accounts.passwords,
            delivery,
            max_body_bytes=max_body_bytes,
            second_factors=second_factors,
        ),
        indexes=[accounts.tokens.ensure_indexes, accounts.limits.ensure_indexes],
        on_shutdown=[accounts.outbox.close],
    )
