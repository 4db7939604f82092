"""What a plugin's strategies, routes and commands use beyond `authkit`'s public API.

This is the one module plugin authors import from, besides `authkit` and `authkit.testing`;
what it exports keeps its name and meaning across minor releases. Everything else under
`authkit` is internal.

- The strategy contract: `Strategy`, `StrategyContext` (what a factory is handed: the user
  store, the password check, the token issuer, the database, ...), `Success`, `Fail`; and
  `Feature`, what a strategy's `feature()` returns to add routes, indexes and readiness
  checks to the application.
- HTTP: `read_fields` (a JSON or form body, size-capped, with the contract's 400s), `JSON`
  (a response), `first_header`, `client_ip` and `throttle_key` (where a request comes
  from, as a parsed IP and as the bucket a per-address limit counts), and the error tree
  to raise (`ValidationFailed`, `Conflict`, `Forbidden`, `NotFound`, `BackendUnavailable`,
  ...): one handler renders them all.
- OpenAPI: `describe` a route, with `json_response` and `error_responses`.
- Step-up: `require_fresh(request)` refuses (401 `step_up_required`, `StepUpRequired`) an
  access token whose sign-in is older than AUTHKIT_STEP_UP_MAX_AGE (docs/mfa.md).
- Passwords, for a password-based strategy and its tests: `AuthService` (every password
  check, throttled and timed alike), `PasswordHasher`, `SigninThrottle`, `Limit`,
  `DeviceTokens` (what a client that signed in before presents), `SignupCredentials`,
  `TooManyRequests`.
- Storage: `call_database` (a pymongo call off the event loop, errors as 503), `open_client`,
  `DEFAULT_DATABASE`, and the users (`UserStore`, `MongoUserStore`, `User`).
- Settings (the `authkit.settings` entry points): a section is an attrs class whose fields
  are annotated with `Env(name, help)` (and `Range`, `Choice`, `Secret` where they fit);
  the strategy reads it with `ctx.settings.section(MySettings)`.
- Social sign-in providers (the `authkit.oauth_providers` entry points): `AuthlibProvider`
  (subclass it: `registration()` for Authlib, `complete()` returns a `Profile`),
  `ProviderConfig`, `ProviderOptions`, `ProviderFailure`, `guarded` (docs/social-login.md).
- Lifecycle events (the `authkit.events` entry points): `Event`, `EventBus`; a plugin's
  route emits its own with `await ctx.events.emit(Event("thing_done", user_id, {...}))`.
- Commands (the `authkit.commands` entry points): `CommandError`, `add_common_options`,
  `load_settings_for`, `database_uri_for`.

Example (a route of a plugin):

    from authkit.plugin import JSON, describe, error_responses, guard, read_fields

    @describe(operation_id="createKey", summary="Create a key", responses=error_responses(400, 401))
    @guard("jwt")
    async def create_key(request: Request) -> JSON:
        fields = await read_fields(request, max_bytes=4096)
        ...
"""

from authkit.cli.common import CommandError, add_common_options, database_uri_for, load_settings_for
from authkit.core.errors import (
    AccountDisabled,
    AuthenticationFailed,
    BackendUnavailable,
    BadRequest,
    Conflict,
    Forbidden,
    HTTPError,
    InvalidToken,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from authkit.core.feature import Feature
from authkit.core.guard import GuardedApp, guard
from authkit.core.strategy import (
    AuthenticatedUser,
    Fail,
    Outcome,
    Strategy,
    StrategyContext,
    Success,
)
from authkit.core.values import Choice, Env, Range, Secret
from authkit.events.bus import Event, EventBus
from authkit.http.body import read_fields
from authkit.http.client_address import client_ip, throttle_key
from authkit.http.disconnect import ClientConnection
from authkit.http.headers import first_header
from authkit.http.openapi import describe, error_responses, json_response
from authkit.http.responses import JSON
from authkit.mfa.step_up import StepUpRequired, require_fresh
from authkit.ops.metrics import NoMetrics
from authkit.passwords.devices import DeviceTokens
from authkit.passwords.dto import SignupCredentials, is_clean_text
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.passwords.throttle import Limit, SigninThrottle
from authkit.sessions.revocation import RevocationChecker
from authkit.social.providers import (
    AuthlibProvider,
    Profile,
    ProviderFailure,
    ProviderOptions,
    guarded,
)
from authkit.social.settings import ProviderConfig
from authkit.storage.database import DEFAULT_DATABASE, call_database, open_client
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore, User, UserStore

__all__ = [
    "DEFAULT_DATABASE",
    "JSON",
    "AccountDisabled",
    "AuthService",
    "AuthenticatedUser",
    "AuthenticationFailed",
    "AuthlibProvider",
    "BackendUnavailable",
    "BadRequest",
    "Choice",
    "ClientConnection",
    "CommandError",
    "Conflict",
    "DeviceTokens",
    "Env",
    "Event",
    "EventBus",
    "Fail",
    "Feature",
    "Forbidden",
    "GuardedApp",
    "HTTPError",
    "InvalidToken",
    "Limit",
    "MongoUserStore",
    "NoMetrics",
    "NotFound",
    "Outcome",
    "PasswordHasher",
    "Profile",
    "ProviderConfig",
    "ProviderFailure",
    "ProviderOptions",
    "Range",
    "RevocationChecker",
    "Secret",
    "SigninThrottle",
    "SignupCredentials",
    "StepUpRequired",
    "Strategy",
    "StrategyContext",
    "Success",
    "TokenIssuer",
    "TooManyRequests",
    "User",
    "UserStore",
    "ValidationFailed",
    "add_common_options",
    "call_database",
    "client_ip",
    "database_uri_for",
    "describe",
    "error_responses",
    "first_header",
    "guard",
    "guarded",
    "is_clean_text",
    "json_response",
    "load_settings_for",
    "open_client",
    "read_fields",
    "require_fresh",
    "throttle_key",
]
