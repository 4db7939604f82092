"""What a strategy is: something that looks at a request and says who is calling.

A strategy never writes a response. It returns `Success(user, scopes)` or
`Fail(challenge, message)`; when something is broken (the database is down) it
raises an `authkit.errors.HTTPError`, which stops the guard's chain the way
Passport's `error()` does.

Example:

    import attrs
    from typing import ClassVar
    from authkit import AuthenticatedUser, Fail, Outcome, StrategyContext, Success

    @attrs.frozen
    class HeaderStrategy:
        name: ClassVar[str] = "header"

        @classmethod
        def from_context(cls, ctx: StrategyContext) -> HeaderStrategy:
            return cls()

        async def authenticate(self, request: Request) -> Outcome:
            who = request.headers.get("x-user")
            return Success(AuthenticatedUser(who, who)) if who else Fail('Header realm="x"')

    outcome = await HeaderStrategy().authenticate(request)     # Fail('Header realm="x"')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

import attrs
from starlette.authentication import BaseUser
from starlette.requests import Request

from authkit.events.bus import EventBus
from authkit.ops.metrics import NoMetrics

if TYPE_CHECKING:
    from pymongo.database import Database

    from authkit.passwords.hasher import PasswordHasher
    from authkit.passwords.service import AuthService
    from authkit.sessions.revocation import RevocationChecker
    from authkit.tokens.issuer import TokenIssuer
    from authkit.users.store import UserStore

__all__ = [
    "AuthenticatedUser",
    "Fail",
    "Outcome",
    "Strategy",
    "StrategyContext",
    "Success",
]


@attrs.frozen
class AuthenticatedUser(BaseUser):
    """The principal a strategy found: Starlette's `BaseUser`, so `requires()` keeps working."""

    id: str
    username: str
    claims: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.username

    @property
    def identity(self) -> str:
        return self.id


@attrs.frozen
class Success:
    user: BaseUser
    scopes: tuple[str, ...] = ()


@attrs.frozen
class Fail:
    """No or wrong credentials; the next strategy in the chain may try.

    `challenge` goes into `WWW-Authenticate`. `message` is shown to the client
    only when it is safe and expected (the contract's "Invalid credentials");
    otherwise the 401 says just "Unauthorized".
    """

    challenge: str | None = None
    message: str | None = None


Outcome = Success | Fail


T = TypeVar("T")


class SettingsSections(Protocol):
    """What a strategy factory may ask of the settings: a section by its class."""

    def section(self, kind: type[T]) -> T: ...


class DefaultSections:
    """Settings where nothing was set: each section is its class's defaults (a context
    built by hand, in a test)."""

    def section(self, kind: type[T]) -> T:
        return kind()


@attrs.frozen
class StrategyContext:
    """The collaborators a strategy factory may use; built once by the application."""

    users: UserStore
    passwords: PasswordHasher
    tokens: TokenIssuer
    service: AuthService
    max_body_bytes: int = 16 * 1024
    metrics: NoMetrics = attrs.field(factory=NoMetrics)
    # The database the users live in, for a strategy that keeps its own collection
    # (API keys, say); None when the user store is not MongoDB-backed.
    database: Database[dict[str, Any]] | None = None
    # Set when AUTHKIT_REVOCATION_CHECKS is on: bearer-token strategies ask it whether a
    # validly signed token was signed out.
    revocation: RevocationChecker | None = None
    # The application's settings; a plugin reads the section it declared through the
    # `authkit.settings` entry points with `ctx.settings.section(MySettings)`.
    settings: SettingsSections = attrs.field(factory=DefaultSections)
    # The lifecycle events' bus: a plugin's routes `await ctx.events.emit(Event(...))`
    # after what they did (authkit.events.bus); none subscribed, emitting costs nothing.
    events: EventBus = attrs.field(factory=EventBus)


@runtime_checkable
class Strategy(Protocol):
    """What the registry holds. A strategy may also be (authkit.core.feature):

    - `DescribesSecurity`: `openapi_scheme: ClassVar[dict]`, an OpenAPI security scheme,
      when a client can present the credential on its own (bearer token, API key, basic);
    - `AllowsAnonymous`: `openapi_allows_anonymous: ClassVar[bool]`, True when a route it
      guards also opens with no credential at all (the `anonymous` strategy);
    - `ProvidesFeature`: `feature() -> Feature`, the routes, indexes and checks it adds
      to the application (say, to manage API keys);

    and a package may add `authkit` subcommands through the `authkit.commands`
    entry-point group (see authkit.cli).
    """

    name: ClassVar[str]

    async def authenticate(self, request: Request) -> Outcome: ...
