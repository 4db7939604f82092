"""authkit: authentication for Starlette, the Passport.js way.

The public API for applications and strategy plugins; everything else is internal.
"""

from authkit.errors import (
    AuthenticationFailed,
    AuthkitError,
    BackendUnavailable,
    BadRequest,
    ConfigError,
    HTTPError,
    InvalidCredentials,
    InvalidToken,
    RegistryError,
    UnknownStrategyError,
)
from authkit.guard import guard
from authkit.passwords import PasswordHasher
from authkit.registry import StrategyRegistry
from authkit.service import AuthService
from authkit.strategy import (
    AuthenticatedUser,
    Fail,
    Outcome,
    Strategy,
    StrategyContext,
    Success,
)
from authkit.tokens import TokenIssuer
from authkit.users import MongoUserStore, User, UserStore

__all__ = [
    "AuthService",
    "AuthenticatedUser",
    "AuthenticationFailed",
    "AuthkitError",
    "BackendUnavailable",
    "BadRequest",
    "ConfigError",
    "Fail",
    "HTTPError",
    "InvalidCredentials",
    "InvalidToken",
    "MongoUserStore",
    "Outcome",
    "PasswordHasher",
    "RegistryError",
    "Strategy",
    "StrategyContext",
    "StrategyRegistry",
    "Success",
    "TokenIssuer",
    "UnknownStrategyError",
    "User",
    "UserStore",
    "guard",
]
