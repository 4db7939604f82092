"""Email addresses: the one canonical form authkit stores, and the key that makes them unique.

`canonical_email` takes what a client typed and returns the address authkit keeps,
or raises `EmailRefused` with a reason a client can read:

- Unicode NFC, surrounding whitespace removed; at most 254 characters (RFC 5321);
- exactly one `@`; a local part of 1-64 characters with no whitespace, control
  characters, quotes or the specials `(),:;<>[\\]` (quoted local parts and comments
  are legal in RFC 5322 and refused here: no mailbox anyone uses needs them, and
  they are how addresses are smuggled past filters);
- a domain with at least two labels that encodes as IDNA, lower-cased.

The local part keeps its case, since a mail server may tell `Alice` from `alice`;
uniqueness does not: `email_key` (the whole address case-folded) is what the unique
index holds, so `Alice@Example.com` and `alice@example.com` are one address to authkit.

Example:

    canonical_email(" Alice@EXAMPLE.com ")     # 'Alice@example.com'
    email_key("Alice@example.com")             # 'alice@example.com'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_EMAIL_LENGTH", "EmailRefused", "canonical_email", "email_key"]

MAX_EMAIL_LENGTH = 254
_MAX_LOCAL_LENGTH = 64
_SPECIALS = set('()<>[]\\,;:"@')
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class EmailRefused(ValueError):
    """The text is not an address authkit accepts; the message says why."""


def _local_part_ok(local: str) -> bool:
    if not 1 <= len(local) <= _MAX_LOCAL_LENGTH:
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    for char in local:
        if char in _SPECIALS or char.isspace() or not char.isprintable():
            return False
        if unicodedata.category(char).startswith("C"):
            return False
    return True


def _canonical_domain(domain: str) -> str | None:
    # One trailing dot is the root, as in DNS: `example.com.` is `example.com`.
    lowered = domain.lower().removesuffix(".")
    try:
        ascii_form = lowered.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None
    labels = ascii_form.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # an IP address, or a top-level domain that cannot exist
    return lowered


def canonical_email(value: object) -> str:
    if not isinstance(value, str):
        raise EmailRefused("email must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EmailRefused("email must be valid Unicode text") from None
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > MAX_EMAIL_LENGTH:
        raise EmailRefused(f"email must be shorter than or equal to {MAX_EMAIL_LENGTH} characters")
    local, at, domain = text.rpartition("@")
    if not at or not _local_part_ok(local):
        raise EmailRefused("email must be an email address")
    canonical = _canonical_domain(domain)
    if canonical is None:
        raise EmailRefused("email must be an email address")
    return f"{local}@{canonical}"


def email_key(canonical: str) -> str:
    """What makes two canonical addresses the same one: the whole address case-folded."""
    return unicodedata.normalize("NFC", canonical.casefold())
