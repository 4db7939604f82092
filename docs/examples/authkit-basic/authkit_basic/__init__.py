"""authkit-basic: HTTP Basic authentication (RFC 7617) for authkit, as a strategy plugin.

`Authorization: Basic base64(username:password)`, read as UTF-8 (the challenge says
`charset="UTF-8"`), split at the first colon, so a password may contain colons and a
username may not. Anything malformed (not base64, not UTF-8, no colon, control
characters, an empty name or password) is a plain Fail: the next strategy in the
chain may try, and the client gets a 401 with the challenge.

The password is checked by `AuthService.validate_user`, the sign-in route's own
check, so Basic gets the same guarantees: the same bcrypt work for an unknown user
as for a wrong password, failed attempts counted per account and per client
address (429 with Retry-After beyond AUTHKIT_SIGNIN_LIMIT_*), and a security log
line per attempt. That also means one bcrypt check per request: Basic suits
scripts and tools, not chatty clients (give those a JWT or an API key). Send it
over TLS only: the password travels with every request.

Example:

    @guard("jwt", "basic")
    async def report(request: Request) -> Response: ...
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from typing import ClassVar

import attrs
from authkit.plugin import (
    AuthenticatedUser,
    AuthService,
    Fail,
    Outcome,
    StrategyContext,
    Success,
    throttle_key,
)
from starlette.requests import Request

__all__ = ["CHALLENGE", "BasicStrategy", "parse_basic"]

CHALLENGE = 'Basic realm="authkit", charset="UTF-8"'
_MISSING = Fail(challenge=CHALLENGE)
_INVALID = Fail(challenge=CHALLENGE, message="Invalid credentials")
# Far above any real credentials (a 20-character name and a 72-byte password are ~130
# characters in base64); longer input is refused before it is decoded.
_MAX_CREDENTIALS = 1024


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def parse_basic(authorization: str) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic ...` value; None when it is not one.

    The scheme is case-insensitive (RFC 7235 2.1); the credentials are strict base64
    with padding, of UTF-8 text, split at the first colon (RFC 7617 2). Control
    characters are refused in either part (RFC 7617 2 forbids them).
    """
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "basic" or not credentials or len(credentials) > _MAX_CREDENTIALS:
        return None
    try:
        text = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # bad base64, non-ASCII input, or not UTF-8
        return None
    username, colon, password = text.partition(":")
    if not colon or _has_control_characters(text):
        return None
    return username, password


@attrs.frozen
class BasicStrategy:
    name: ClassVar[str] = "basic"
    openapi_scheme: ClassVar[dict[str, str]] = {"type": "http", "scheme": "basic"}

    service: AuthService

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> BasicStrategy:
        return cls(ctx.service)

    async def authenticate(self, request: Request) -> Outcome:
        credentials = parse_basic(request.headers.get("authorization", ""))
        if credentials is None:
            return _MISSING
        username, password = credentials
        if not username or not password:
            return _MISSING  # as the sign-in route treats empty fields: not even an attempt
        address = throttle_key(request.scope)  # the parsed IP (an IPv6 client's /64)
        # Raises TooManyRequests (429) when this account or address is throttled.
        user = await self.service.validate_user(username, password, address=address)
        if user is None:
            return _INVALID
        return Success(AuthenticatedUser(user.id, user.username))
