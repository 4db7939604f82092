"""The settings, as frozen attrs classes. Environment names are in loader.ENV_VARS.

Example:

    Settings(jwt=JWTSettings(secret=Secret("…")), server=ServerSettings(port=8080))
"""

from __future__ import annotations

from datetime import timedelta
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
    secret: Secret
    # @nestjs/jwt's expiresIn: '60s' in the seed.
    expires_in: timedelta = timedelta(seconds=60)


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
    passwords: PasswordSettings = PasswordSettings()
    signin_limits: SigninLimits = SigninLimits()
    server: ServerSettings = ServerSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    cors: CORSSettings = CORSSettings()
    plugins: PluginSettings = PluginSettings()
