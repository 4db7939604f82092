"""authkit: authentication for Starlette, the Passport.js way.

The public API for applications and strategies. What a plugin's routes and commands need
beyond it (body reading, JSON errors, OpenAPI descriptions, database calls, CLI errors) is
in `authkit.plugin`; the conformance kit is `authkit.testing`. Every other module is
internal and may change.

Example:

    from authkit import create_app, guard, load_settings

    @guard("jwt")
    async def profile(request: Request) -> JSONResponse:
        return JSONResponse({"hello": request.user.display_name})

    app = create_app(load_settings(os.environ), routes=[Route("/profile", profile)])
"""

from importlib.metadata import PackageNotFoundError, version

from authkit.application import create_app
from authkit.asgi import serving
from authkit.core.errors import (
    AuthenticationFailed,
    AuthkitError,
    BackendUnavailable,
    BadRequest,
    ConfigError,
    Forbidden,
    HTTPError,
    InvalidToken,
    RegistryError,
    UnknownStrategyError,
)
from authkit.core.guard import GuardedApp, guard
from authkit.core.strategy import (
    AuthenticatedUser,
    Fail,
    Outcome,
    Strategy,
    StrategyContext,
    Success,
)
from authkit.core.values import Secret
from authkit.settings.loader import load_settings
from authkit.settings.model import Settings

try:
    __version__ = version("authkit-asgi")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "AuthenticatedUser",
    "AuthenticationFailed",
    "AuthkitError",
    "BackendUnavailable",
    "BadRequest",
    "ConfigError",
    "Fail",
    "Forbidden",
    "GuardedApp",
    "HTTPError",
    "InvalidToken",
    "Outcome",
    "RegistryError",
    "Secret",
    "Settings",
    "Strategy",
    "StrategyContext",
    "Success",
    "UnknownStrategyError",
    "create_app",
    "guard",
    "load_settings",
    "serving",
]
