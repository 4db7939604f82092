"""The accounts settings section: how long mailed tokens live, how often mail may go out."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.values import Env
from authkit.passwords.throttle import Limit

__all__ = ["AccountSettings"]

_FIVE_PER_HOUR = Limit(5, 60 * 60)
_TWENTY_PER_HOUR = Limit(20, 60 * 60)


@attrs.frozen
class AccountSettings:
    """Email verification and password reset (docs/accounts.md)."""

    verify_ttl: Annotated[
        timedelta,
        Env("AUTHKIT_EMAIL_VERIFY_TTL", "how long an email-verification link works"),
    ] = timedelta(hours=24)
    reset_ttl: Annotated[
        timedelta,
        Env("AUTHKIT_PASSWORD_RESET_TTL", "how long a password-reset link works"),
    ] = timedelta(minutes=30)
    mail_per_recipient: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_MAIL_LIMIT",
            "verification and reset mails per user and per address (`off`: no limit); past it, 429",
        ),
    ] = _FIVE_PER_HOUR
    mail_per_client: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_MAIL_LIMIT_ADDRESS",
            "mail-sending requests per client IP address (`off`: no limit); past it, 429",
        ),
    ] = _TWENTY_PER_HOUR
