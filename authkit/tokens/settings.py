"""The access-token settings section (JWT_*, AUTHKIT_JWT_*)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import attrs

from authkit.core.values import Range, Secret

__all__ = ["JWTSettings"]


@attrs.frozen
class JWTSettings:
    """How access tokens are signed and checked.

    HS256 with `secret` (the seed's JWT_SECRET) unless `keys_file` names a key set
    (RS256, ES256 or EdDSA; see authkit.keys): then the secret is not needed, and
    not accepted either, since the algorithm is pinned to the keys'.
    """

    secret: Secret | None = None
    # @nestjs/jwt's expiresIn: '60s' in the seed.
    expires_in: timedelta = timedelta(seconds=60)
    keys_file: Path | None = None
    # Set on every token and required of every token when given.
    issuer: str | None = None
    audience: str | None = None
    # Seconds of clock skew forgiven on exp and nbf; 0, as jsonwebtoken's default.
    leeway: Annotated[int, Range(0, 300)] = 0
