"""JWTStrategy: an `Authorization: Bearer <token>` header -> the token's user.

Extraction follows passport-jwt's `fromAuthHeaderAsBearerToken()`: the
scheme is case-insensitive and any run of whitespace separates it from the
token. A token in the query string is ignored. Verification is the
TokenIssuer's; the user comes from the token alone, with no database read.

Example:

    registry.use(JWTStrategy(issuer))
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from starlette.requests import Request

from authkit.errors import InvalidToken
from authkit.metrics import NoMetrics
from authkit.strategy import AuthenticatedUser, Fail, Outcome, StrategyContext, Success
from authkit.tokens import TokenIssuer

__all__ = ["JWTStrategy"]

_NO_TOKEN = Fail(challenge='Bearer realm="authkit"')
_BAD_TOKEN = Fail(challenge='Bearer realm="authkit", error="invalid_token"')


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

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> JWTStrategy:
        return cls(ctx.tokens, ctx.metrics)

    async def authenticate(self, request: Request) -> Outcome:
        token = bearer_token(request.headers.get("authorization", ""))
        if token is None:
            return _NO_TOKEN
        try:
            claims = self.tokens.verify(token)
        except InvalidToken as exc:
            self.metrics.token_rejected(exc.reason)
            return _BAD_TOKEN
        return Success(AuthenticatedUser(claims["sub"], claims["username"], claims))
