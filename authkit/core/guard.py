"""Guards: protect endpoints, endpoint methods and whole mounted apps with strategy chains.

Passport's chain: strategies are tried in order and the first `Success` wins;
every `Fail` adds its challenge; when all fail the request gets a 401 naming
every challenge. A guard may also require scopes: authenticated but lacking
one is a 403 naming what is missing. On success the principal lands on
`request.user` and the scopes on `request.auth`, as Starlette's
`AuthenticationMiddleware` would put them, so `starlette.authentication.requires()`
keeps working.

Examples:

    @guard("jwt")                                   # a function endpoint
    async def me(request: Request) -> Response: ...

    class Reports(HTTPEndpoint):
        @guard("jwt", "apikey", scopes=["reports:read"])   # an HTTPEndpoint method
        async def get(self, request: Request) -> Response: ...

    admin_app = Starlette()                                        # an app of yours
    Mount("/admin", app=GuardedApp(admin_app, "jwt", scopes=["admin"]))   # a whole app

The registry comes from the request's scope, where the application puts it
(`authkit.ops.observer.RequestObserver`). Every guard is recorded, so the application
checks its names at start-up and the OpenAPI document lists its schemes.

FastAPI path operations take a dependency instead, `Depends(authkit.fastapi.Guard(...))`:
FastAPI calls an endpoint with keyword arguments of its own choosing, not with the
request, so `@guard` on one is refused at start-up (see `guards_in`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

import attrs
from starlette.authentication import AuthCredentials
from starlette.endpoints import HTTPEndpoint
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from authkit.core.errors import AuthenticationFailed, HTTPError, InsufficientScope, RegistryError
from authkit.core.registry import StrategyRegistry
from authkit.core.strategy import Fail, Success

__all__ = [
    "REGISTRY_SCOPE_KEY",
    "Guard",
    "GuardedApp",
    "authenticate",
    "check_guards",
    "guard",
    "guarded_by",
    "guards_in",
]

F = TypeVar("F", bound=Callable[..., Awaitable[Response]])
_GUARD_ATTRIBUTE = "__authkit_guard__"
# Where the application puts its registry in each scope (authkit.ops.observer).
REGISTRY_SCOPE_KEY = "authkit.strategies"
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_ON_FASTAPI = (
    "@guard cannot protect a FastAPI path operation (FastAPI passes it keyword arguments, "
    "not the request); use the dependency instead: "
    "`Depends(authkit.fastapi.Guard(...))` with the same strategy names and scopes"
)


async def authenticate(
    request: HTTPConnection, registry: StrategyRegistry, names: Sequence[str]
) -> Success:
    """Run the chain; return the winning Success or raise AuthenticationFailed."""
    challenges: list[str] = []
    message: str | None = None
    for name in names:
        outcome = await registry.get(name).authenticate(request)  # type: ignore[arg-type]
        if isinstance(outcome, Success):
            return outcome
        if not isinstance(outcome, Fail):
            raise TypeError(f"strategy {name!r} returned {outcome!r}, not Success or Fail")
        if outcome.challenge:
            challenges.append(outcome.challenge)
        message = message or outcome.message
    raise AuthenticationFailed(message, challenges)


def _registry_of(connection: HTTPConnection) -> StrategyRegistry:
    registry = connection.scope.get(REGISTRY_SCOPE_KEY)
    if registry is None:
        registry = connection.app.state.strategies
    return registry  # type: ignore[no-any-return]


@attrs.frozen
class Guard:
    """Strategy names tried in order, and the scopes a success must carry."""

    names: tuple[str, ...]
    scopes: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not self.names or not all(isinstance(n, str) and n for n in self.names):
            raise TypeError("a guard needs one or more strategy names, e.g. guard('jwt')")

    async def admit(self, connection: HTTPConnection) -> Success:
        """Authenticate and authorize, or raise; on success fill `user` and `auth`."""
        success = await authenticate(connection, _registry_of(connection), self.names)
        connection.scope["user"] = success.user
        connection.scope["auth"] = AuthCredentials(list(success.scopes))
        missing = [s for s in self.scopes if s not in success.scopes]
        if missing:
            raise InsufficientScope(missing)
        return success


def guard(*names: str, scopes: Iterable[str] = ()) -> Callable[[F], F]:
    """Protect an endpoint function or an HTTPEndpoint method (its last argument: the request)."""
    rule = Guard(tuple(names), tuple(scopes))

    def decorate(endpoint: F) -> F:
        @functools.wraps(endpoint)
        async def guarded(*args: Any, **kwargs: Any) -> Response:
            if kwargs or not args:
                # Only FastAPI calls an endpoint this way; start-up refuses that (guards_in),
                # so this is reached only by an app that skipped create_app's checks.
                raise TypeError(f"{_ON_FASTAPI} ({endpoint.__qualname__})")
            await rule.admit(args[-1])
            return await endpoint(*args)

        setattr(guarded, _GUARD_ATTRIBUTE, rule)
        return guarded  # type: ignore[return-value]

    return decorate


class GuardedApp:
    """An ASGI app behind a guard: put one in a `Mount` to protect every route under it."""

    def __init__(self, app: ASGIApp, *names: str, scopes: Iterable[str] = ()) -> None:
        self.app = app
        setattr(self, _GUARD_ATTRIBUTE, Guard(tuple(names), tuple(scopes)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            rule: Guard = getattr(self, _GUARD_ATTRIBUTE)
            # A Request, for strategies that read headers; a guard in front of a whole app
            # should not read the body, which belongs to the app behind it.
            connection = (
                Request(scope, receive) if scope["type"] == "http" else HTTPConnection(scope)
            )
            try:
                await rule.admit(connection)
            except HTTPError as exc:
                from authkit.http.responses import http_error_response

                if scope["type"] == "http":
                    await http_error_response(exc)(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


def guarded_by(target: object) -> Guard | None:
    """The guard on an endpoint, HTTPEndpoint method or GuardedApp; None when unguarded."""
    rule = getattr(target, _GUARD_ATTRIBUTE, None)
    return rule if isinstance(rule, Guard) else None


def guards_in(routes: Iterable[BaseRoute]) -> Iterator[tuple[str, str, Guard]]:
    """Every (path, method, guard) reachable from `routes`, mounts and HTTPEndpoints included.

    `method` is "*" for a guard that covers everything under a mount. FastAPI's routes (a
    `Route` with a `dependant`) count through their dependencies, `authkit.fastapi.Guard`;
    `@guard` on one raises RegistryError, so the mistake stops start-up (in one line, under
    `serving`) rather than a request.
    """
    for route in routes:
        if isinstance(route, Route):
            endpoint = route.endpoint
            dependant = getattr(route, "dependant", None)
            if dependant is not None:
                if guarded_by(endpoint) is not None:
                    raise RegistryError(f"{_ON_FASTAPI} (on {route.path})")
                for needed in _dependency_guards(dependant):
                    for method in sorted(route.methods or ()):
                        yield route.path, method, needed
            elif isinstance(endpoint, type) and issubclass(endpoint, HTTPEndpoint):
                for method in _HTTP_METHODS:
                    rule = guarded_by(getattr(endpoint, method.lower(), None))
                    if rule is not None:
                        yield route.path, method, rule
            else:
                rule = guarded_by(endpoint)
                if rule is not None:
                    for method in sorted(route.methods or ()):
                        yield route.path, method, rule
        elif isinstance(route, Mount):
            app: Any = route.app
            rule = guarded_by(app)
            if rule is not None:
                yield route.path, "*", rule
                app = app.app
            inner = getattr(app, "routes", None)
            if inner:
                for path, method, rule in guards_in(inner):
                    yield route.path + path, method, rule


def _dependency_guards(dependant: Any) -> Iterator[Guard]:
    """The guards among a FastAPI route's dependencies, at any depth (duck-typed: authkit
    does not import FastAPI)."""
    for dependency in getattr(dependant, "dependencies", ()):
        rule = guarded_by(getattr(dependency, "call", None))
        if rule is not None:
            yield rule
        yield from _dependency_guards(dependency)


def check_guards(routes: list[BaseRoute], strategies: StrategyRegistry) -> None:
    """Every strategy a guard names must be registered: a typo fails the boot, not a request."""
    for path, method, rule in guards_in(routes):
        for name in rule.names:
            if name not in strategies:
                raise RegistryError(
                    f"the guard on {method} {path} names strategy {name!r}, which no plugin "
                    f"provides (registered: {', '.join(sorted(strategies)) or 'none'})"
                )
