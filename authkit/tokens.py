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

import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import OctKey

from authkit.errors import InvalidToken

__all__ = ["MAX_TOKEN_LENGTH", "TokenIssuer"]

# Far above any token authkit issues (~250 bytes); refusing longer input early
# keeps an attacker from making us base64-decode and parse megabytes.
MAX_TOKEN_LENGTH = 8192
# Tokens whose signature and claims were verified, remembered so that a client calling
# again with the same token skips the HMAC and JSON work (two fifths of /auth/me).
# Only tokens that passed are kept, so an attacker cannot fill it without our key.
VERIFIED_CACHE_SIZE = 4096


class _ClaimsRegistry(jwt.JWTClaimsRegistry):
    """joserfc's registry, with two decisions of ours that must not vary with its version."""

    def validate_exp(self, value: object) -> None:
        # Expired from `exp` on, as RFC 7519 4.1.4 and jsonwebtoken say; joserfc before
        # 1.8 still accepted a token during its `exp` second.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidClaimError("exp", "Claim 'exp' must be a NumericDate value")
        if value <= self.now - self.leeway:
            raise ExpiredTokenError("exp")

    def validate_iat(self, value: object) -> None:
        # `iat` only says when the token was made (RFC 7519 4.1.6). jsonwebtoken does not
        # refuse one from the future, and refusing it would turn a replica or the NestJS
        # app whose clock runs a second fast into spurious 401s. It must still be a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidClaimError("iat", "Claim 'iat' must be a NumericDate value")


def _reason(exc: Exception) -> str:
    """A short, fixed label for why a token was refused: for metrics and logs, never clients."""
    if isinstance(exc, ExpiredTokenError):
        return "expired"
    if isinstance(exc, BadSignatureError):
        return "bad_signature"
    if isinstance(exc, UnsupportedAlgorithmError):
        return "bad_algorithm"
    if isinstance(exc, (InvalidClaimError, MissingClaimError)):
        return "bad_claims"
    if isinstance(exc, DecodeError):
        return "malformed"
    return "malformed" if isinstance(exc, (ValueError, TypeError)) else "invalid"


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
        self._verified: dict[str, dict[str, Any]] = {}
        self._cache_lock = threading.Lock()

    def issue(self, *, user_id: str, username: str) -> str:
        now = int(self._clock())
        claims = {"username": username, "sub": user_id, "iat": now, "exp": now + self.ttl_seconds}
        # default_type=None keeps the header bytes identical to jsonwebtoken's.
        return jwt.encode(self._header, claims, self._key, default_type=None)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims (a copy: yours to change); InvalidToken saying why not."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("too_long")
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            with self._cache_lock:  # a plugin may verify from a worker thread
                if len(self._verified) >= VERIFIED_CACHE_SIZE:
                    # Oldest first; with the cache full, tokens in use come back soon.
                    del self._verified[next(iter(self._verified))]
                self._verified[token] = claims
        else:
            # Time moves on for a token we met before: exp and nbf are checked again.
            self._check_times(token, claims)
        return dict(claims)

    def _check_times(self, token: str, claims: dict[str, Any]) -> None:
        now = int(self._clock())
        if claims["exp"] <= now:
            self._verified.pop(token, None)
            raise InvalidToken("expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and nbf > now:
            raise InvalidToken("bad_claims")

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(token, self._key, algorithms=[self.algorithm])
            if not isinstance(decoded.claims, dict):  # joserfc < 1.8 lets a JSON array through
                raise InvalidToken("malformed")
            registry = _ClaimsRegistry(
                now=int(self._clock()),
                exp={"essential": True},
                sub={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(_reason(exc)) from exc
        claims = decoded.claims
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("username"), str):
            raise InvalidToken("bad_claims")
        return claims
