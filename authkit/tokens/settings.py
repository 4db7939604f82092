"""The access-token settings section (JWT_*, AUTHKIT_JWT_*), and the issuer they make."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import attrs

from authkit.core.errors import ConfigError
from authkit.core.values import Env, Range, Secret
from authkit.tokens.issuer import TokenIssuer
from authkit.tokens.keys import KeyRing, KeySetError

__all__ = ["JWTSettings", "token_issuer"]


@attrs.frozen
class JWTSettings:
    """How access tokens are signed and checked.

    HS256 with `secret` (the seed's JWT_SECRET) unless `keys_file` names a key set
    (RS256, ES256 or EdDSA; see authkit.keys): then the secret is not needed, and
    not accepted either, since the algorithm is pinned to the keys'.
    """

    secret: Annotated[
        Secret | None,
        Env(
            "JWT_SECRET",
            "HS256 signing secret. Shorter than 32 bytes: accepted, with a warning",
            "(required unless `AUTHKIT_JWT_KEYS`; `authkit serve` creates one)",
        ),
    ] = None
    # @nestjs/jwt's expiresIn: '60s' in the seed.
    expires_in: Annotated[
        timedelta,
        Env(
            "JWT_EXPIRES_IN",
            "access-token lifetime: `60s`, `15m`, `1h`, `7d`, `1.5h`, or a number of seconds",
        ),
    ] = timedelta(seconds=60)
    keys_file: Annotated[
        Path | None,
        Env(
            "AUTHKIT_JWT_KEYS",
            "key-set file (RS256, ES256, EdDSA; `authkit keys generate`) to sign with instead; "
            "`JWT_SECRET` is then not needed",
            "(unset: HS256 with `JWT_SECRET`)",
        ),
    ] = None
    # Set on every token and required of every token when given.
    issuer: Annotated[
        str | None,
        Env("AUTHKIT_JWT_ISSUER", "`iss` set on every token and required of every token"),
    ] = None
    audience: Annotated[
        str | None,
        Env("AUTHKIT_JWT_AUDIENCE", "`aud` set on every token and required of every token"),
    ] = None
    # Seconds of clock skew forgiven on exp, nbf and iat; 0, as jsonwebtoken's default.
    leeway: Annotated[
        int,
        Range(0, 300),
        Env("AUTHKIT_JWT_LEEWAY", "seconds of clock skew forgiven on `exp`, `nbf` and `iat`"),
    ] = 0


def token_issuer(jwt: JWTSettings) -> TokenIssuer:
    """HS256 with JWT_SECRET, or the key set AUTHKIT_JWT_KEYS names (ConfigError if unusable)."""
    keys = None
    if jwt.keys_file is not None:
        try:
            keys = KeyRing(jwt.keys_file)
        except KeySetError as exc:
            raise ConfigError(f"AUTHKIT_JWT_KEYS: {exc}") from None
    elif jwt.secret is None:
        raise ConfigError("JWT_SECRET is not set (nor AUTHKIT_JWT_KEYS): nothing to sign with")
    return TokenIssuer(
        None if keys is not None or jwt.secret is None else jwt.secret.value,
        int(jwt.expires_in.total_seconds()),
        keys=keys,
        issuer=jwt.issuer,
        audience=jwt.audience,
        leeway=jwt.leeway,
    )
