"""JWTStrategy: an `Authorization: Bearer <token>` header -> the token's user.

Extraction follows passport-jwt's `fromAuthHeaderAsBearerToken()`: the
scheme is case-insensitive and any run of whitespace separates it from the
token. A token in the query string is ignored. Verification is the
TokenIssuer's; the user comes from the token alone, with no database read,
unless revocation checks are on (AUTHKIT_REVOCATION_CHECKS): then a signed-out
token, or one issued before the user's last sign-out-all, is refused too.

Example:

    registry.use(JWTStrategy(issuer))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
from starlette.requests import Request

from authkit.plugin import (
    AuthenticatedUser,
    Fail,
    InvalidToken,
    NoMetrics,
    Outcome,
    RevocationChecker,
    StrategyContext,
    Success,
    TokenIssuer,
    first_header,
)

__all__ = ["JWTStrategy"]

_NO_TOKEN = Fail(challenge='Bearer realm="authkit"')
# RFC 6750 3.1: an expired token says so, for the client to refresh it rather than sign in
# again; any other refusal says only that the token is invalid, never which check failed.
_EXPIRED_TOKEN = Fail(challenge=InvalidToken("expired").bearer_challenge())
_BAD_TOKEN = Fail(challenge=InvalidToken().bearer_challenge())


def scopes_from_claims(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """OAuth's space-separated `scope` (RFC 8693) and a `roles` list, as one tuple of scopes."""
    if "scope" not in claims and "roles" not in claims:
        return ()  # most tokens, authkit's own included: no list, no dict built
    found: list[str] = []
    scope = claims.get("scope")
    if isinstance(scope, str):
        found.extend(scope.split())
    roles = claims.get("roles")
    if isinstance(roles, list):
        found.extend(r for r in roles if isinstance(r, str))
    return tuple(dict.fromkeys(found))


def bearer_token(authorization: str) -> str | None:
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]


@attrs.frozen
class JWTStrategy:
    name: ClassVar[str] = "jwt"
    openapi_scheme: ClassVar[dict[str, str]] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }

    tokens: TokenIssuer
    metrics: NoMetrics = attrs.field(factory=NoMetrics)
    revocation: RevocationChecker | None = None

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> JWTStrategy:
        return cls(ctx.tokens, ctx.metrics, ctx.revocation)

    async def authenticate(self, request: Request) -> Outcome:
        # Not request.headers: building a Headers object for one lookup was a third of this
        # strategy's time on a token it has seen before.
        token = bearer_token(first_header(request.scope, b"authorization") or "")
        if token is None:
            return _NO_TOKEN
        try:
            claims = self.tokens.verify(token)
        except InvalidToken as exc:
            self.metrics.token_rejected(exc.reason)
            return _EXPIRED_TOKEN if exc.expired else _BAD_TOKEN
        if self.revocation is not None:
            # A database outage raises BackendUnavailable: 503, never a silent pass.
            refusal = await self.revocation.refusal(claims)
            if refusal is not None:
                self.metrics.token_rejected(refusal)
                return _BAD_TOKEN
        user = AuthenticatedUser(claims["sub"], claims["username"], claims)
        return Success(user, scopes_from_claims(claims))
