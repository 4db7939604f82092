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
    InvalidRefreshToken,
    InvalidToken,
    RegistryError,
    UnknownStrategyError,
)
from authkit.guard import guard
from authkit.keys import KeyRing, SigningKeys
from authkit.lifecycle import TokenLifecycle, TokenPair
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
from authkit.users import AccountStore, MongoUserStore, User, UserStore

__all__ = [
    "AccountStore",
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
    "InvalidRefreshToken",
    "InvalidToken",
    "KeyRing",
    "MongoUserStore",
    "Outcome",
    "PasswordHasher",
    "RegistryError",
    "SigningKeys",
    "Strategy",
    "StrategyContext",
    "StrategyRegistry",
    "Success",
    "TokenIssuer",
    "TokenLifecycle",
    "TokenPair",
    "UnknownStrategyError",
    "User",
    "UserStore",
    "guard",
]
