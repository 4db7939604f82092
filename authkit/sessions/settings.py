"""The sessions settings section: refresh tokens, their lifetimes, revocation."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.values import Choice, Env, Range

__all__ = ["SessionSettings"]


@attrs.frozen
class SessionSettings:
    """Refresh tokens, sessions and revocation (docs/tokens.md).

    `refresh_tokens`: `body` returns `refreshToken` beside `accessToken`; `cookie`
    sets it as an HttpOnly, Secure cookie scoped to /auth instead (the body stays
    the reference's); `off` issues none (the reference's behaviour exactly).
    `revocation_checks` makes every bearer check ask the database whether the token
    was signed out; off, `/auth/me` stays database-free and a signed-out access
    token lives until its `exp`.
    `max_age` ends a session that long after its sign-in however often it is
    refreshed (OWASP ASVS 3.3.2 asks for re-authentication at least every 30 days);
    None (`off`) lets a session that keeps refreshing live for ever.
    """

    refresh_tokens: Annotated[
        str,
        Choice(("body", "cookie", "off")),
        Env(
            "AUTHKIT_REFRESH_TOKENS",
            "`body`, `cookie` (HttpOnly, Secure, SameSite, path `/auth`) or `off` "
            "(the reference's signin body exactly)",
        ),
    ] = "body"
    refresh_ttl: Annotated[
        timedelta,
        Env("AUTHKIT_REFRESH_TTL", "refresh-token lifetime (each refresh starts a new one)"),
    ] = timedelta(days=14)
    max_age: Annotated[
        timedelta | None,
        Env(
            "AUTHKIT_SESSION_MAX_AGE",
            "a session ends this long after its sign-in however often it is refreshed, and "
            "the user signs in again (`off`: never)",
            none_is_off=True,
        ),
    ] = timedelta(days=30)
    # Seconds after its first use during which a used refresh token presented again is
    # taken for a concurrent duplicate (refused, session kept) rather than a replay
    # (refused, session revoked). 0: every second use revokes.
    reuse_grace: Annotated[
        int,
        Range(0, 300),
        Env(
            "AUTHKIT_REFRESH_REUSE_GRACE",
            "seconds in which a second use of a refresh token is a client's own race, "
            "not a replay (`0`: strict)",
        ),
    ] = 10
    cookie_samesite: Annotated[
        str,
        Choice(("strict", "lax", "none")),
        Env("AUTHKIT_REFRESH_COOKIE_SAMESITE", "`strict`, `lax` or `none`"),
    ] = "strict"
    cookie_host_prefix: Annotated[
        bool,
        Env(
            "AUTHKIT_REFRESH_COOKIE_HOST_PREFIX",
            "name the refresh cookie `__Host-authkit_refresh` (Path=/): browsers then refuse it "
            "from subdomains and plain HTTP",
        ),
    ] = False
    revocation_checks: Annotated[
        bool,
        Env(
            "AUTHKIT_REVOCATION_CHECKS",
            "refuse signed-out access tokens at once (one database read per request); off, "
            "they work until their `exp`",
        ),
    ] = False
