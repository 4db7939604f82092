"""The settings, as frozen attrs classes. Environment names are in loader.ENV_VARS.

Example:

    Settings(jwt=JWTSettings(secret=Secret("…")), server=ServerSettings(port=8080))
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import attrs

from authkit.throttle import Limit

__all__ = [
    "DEFAULT_MONGO_URI",
    "CORSSettings",
    "Choice",
    "JWTSettings",
    "MongoSettings",
    "ObservabilitySettings",
    "PasswordSettings",
    "PluginSettings",
    "Range",
    "Secret",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "SigninLimits",
]

DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27017/authkit"


@attrs.frozen
class Choice:
    """The values a text setting may take, checked when the text is converted."""

    values: tuple[str, ...]


@attrs.frozen
class Range:
    """Bounds for an integer setting, checked when the text is converted."""

    minimum: int
    maximum: int


@attrs.frozen(repr=False)
class Secret:
    """A string that never shows itself in a repr, a log or a traceback (Starlette's Secret)."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


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

    refresh_tokens: Annotated[str, Choice(("body", "cookie", "off"))] = "body"
    refresh_ttl: timedelta = timedelta(days=14)
    max_age: timedelta | None = timedelta(days=30)
    # Seconds after its first use during which a used refresh token presented again is
    # taken for a concurrent duplicate (refused, session kept) rather than a replay
    # (refused, session revoked). 0: every second use revokes.
    reuse_grace: Annotated[int, Range(0, 300)] = 10
    cookie_samesite: Annotated[str, Choice(("strict", "lax", "none"))] = "strict"
    revocation_checks: bool = False


@attrs.frozen
class MongoSettings:
    # None: no MONGO_URI was given. `authkit serve` then starts the embedded server;
    # a bare `uvicorn app:app` connects to DEFAULT_MONGO_URI.
    uri: str | None = None

    @property
    def effective_uri(self) -> str:
        return self.uri or DEFAULT_MONGO_URI


@attrs.frozen
class PasswordSettings:
    bcrypt_rounds: Annotated[int, Range(4, 31)] = 10


_TEN_PER_QUARTER_HOUR = Limit(10, 15 * 60)
_HUNDRED_PER_QUARTER_HOUR = Limit(100, 15 * 60)


@attrs.frozen
class SigninLimits:
    """Failed sign-ins allowed before 429; None turns a limit off.

    Per account: a guesser gets 10 tries per 15 minutes at one account, from
    anywhere; that is far beyond what a person who forgot a password needs.
    Per address: 100 per 15 minutes leaves room for many people behind one
    NAT, and stops one machine from spraying guesses across many accounts.
    """

    per_account: Limit | None = _TEN_PER_QUARTER_HOUR
    per_address: Limit | None = _HUNDRED_PER_QUARTER_HOUR


@attrs.frozen
class ServerSettings:
    host: str = "127.0.0.1"
    port: Annotated[int, Range(1, 65535)] = 3000
    max_body_bytes: Annotated[int, Range(256, 64 * 1024 * 1024)] = 16 * 1024


@attrs.frozen
class ObservabilitySettings:
    log_format: Annotated[str, Choice(("json", "text"))] = "json"
    log_level: Annotated[str, Choice(("debug", "info", "warning", "error"))] = "info"
    # One line per request; off when a proxy in front already logs every request.
    access_log: bool = True
    metrics: bool = True


@attrs.frozen
class CORSSettings:
    """Browser access from other origins; off (no origins) by default."""

    origins: tuple[str, ...] = ()
    allow_credentials: bool = False


@attrs.frozen
class PluginSettings:
    # Dotted paths, `package.module:Class`, loaded after the entry points.
    strategies: tuple[str, ...] = ()
    # The package whose modules are searched for strategy classes (the project's folder).
    folder: str = "strategies"


@attrs.frozen
class Settings:
    jwt: JWTSettings
    mongo: MongoSettings = MongoSettings()
    sessions: SessionSettings = SessionSettings()
    passwords: PasswordSettings = PasswordSettings()
    signin_limits: SigninLimits = SigninLimits()
    server: ServerSettings = ServerSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    cors: CORSSettings = CORSSettings()
    plugins: PluginSettings = PluginSettings()
