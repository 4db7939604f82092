"""TokenIssuer: sign and verify access tokens (JWT, through joserfc).

Tokens are what the NestJS app issues with `@nestjs/jwt`: header
`{"alg":"HS256","typ":"JWT"}`, payload `{username, sub, iat, exp}`, signed
with `JWT_SECRET`. Either side accepts the other's tokens when they share the
secret. Verification is stricter than the reference (RFC 8725): the algorithm
is pinned, `exp` is required, and `sub` and `username` must be strings.

Example:

    issuer = TokenIssuer(secret="…32 bytes or more…", ttl_seconds=60)
    token = issuer.issue(user_id="6650…", username="alice")
    claims = issuer.verify(token)          # raises InvalidToken
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from authkit.errors import InvalidToken

__all__ = ["MAX_TOKEN_LENGTH", "TokenIssuer"]

# Far above any token authkit issues (~250 bytes); refusing longer input early
# keeps an attacker from making us base64-decode and parse megabytes.
MAX_TOKEN_LENGTH = 8192


class TokenIssuer:
    algorithm = "HS256"

    def __init__(
        self,
        secret: str,
        ttl_seconds: int = 60,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError(f"token lifetime must be at least 1 second (got {ttl_seconds})")
        with warnings.catch_warnings():
            # joserfc warns about short HMAC keys; settings warn once, in words an operator
            # can act on, and an existing deployment's short secret must keep working.
            warnings.simplefilter("ignore")
            self._key = OctKey.import_key(secret.encode("utf-8"))
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._header = {"alg": self.algorithm, "typ": "JWT"}

    def issue(self, *, user_id: str, username: str) -> str:
        now = int(self._clock())
        claims = {"username": username, "sub": user_id, "iat": now, "exp": now + self.ttl_seconds}
        # default_type=None keeps the header bytes identical to jsonwebtoken's.
        return jwt.encode(self._header, claims, self._key, default_type=None)

    def verify(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        try:
            decoded = jwt.decode(token, self._key, algorithms=[self.algorithm])
            registry = jwt.JWTClaimsRegistry(
                now=int(self._clock()),
                exp={"essential": True},
                sub={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(f"{type(exc).__name__}: {exc}") from exc
        claims = decoded.claims
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("username"), str):
            raise InvalidToken("sub and username must be strings")
        return claims
