"""The mail settings section: where mail goes, who it is from, which templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import attrs

from authkit.core.values import Env, Range, Secret

__all__ = ["MailSettings"]


@attrs.frozen
class MailSettings:
    """Outgoing mail (docs/accounts.md, "Mail"). Without `smtp_url` every message is
    written to the log instead (the development sender), tokens included."""

    smtp_url: Annotated[
        Secret | None,
        Env(
            "AUTHKIT_SMTP_URL",
            "mail server: `smtp://user:pass@host:587` (STARTTLS), `smtps://...:465` (TLS), "
            "`?starttls=false` for a loopback relay, `?cafile=/path/ca.pem` to trust a private "
            "CA instead of the system's",
            "(unset: mail is written to the log, tokens included: development only)",
        ),
    ] = None
    sender: Annotated[
        str, Env("AUTHKIT_MAIL_FROM", "the From address of the mail authkit sends")
    ] = "authkit@localhost"
    templates: Annotated[
        Path | None,
        Env(
            "AUTHKIT_MAIL_TEMPLATES",
            "folder whose `<kind>.subject`/`.txt`/`.html` files replace the packaged templates",
            "(unset: the packaged ones)",
        ),
    ] = None
    timeout: Annotated[
        int,
        Range(1, 300),
        Env(
            "AUTHKIT_SMTP_TIMEOUT", "seconds one message may take to hand over, then it is dropped"
        ),
    ] = 20
