"""`@guard("jwt", ...)`: protect a Starlette endpoint with a chain of strategies.

Passport's chain: strategies are tried in order and the first `Success` wins;
every `Fail` adds its challenge; when all fail the request gets a 401 naming
every challenge. On success the principal lands on `request.user` and the
scopes on `request.auth`, as Starlette's `AuthenticationMiddleware` would put
them, so `starlette.authentication.requires()` keeps working.

Example:

    @guard("jwt")
    async def me(request: Request) -> Response:
        return JSONResponse({"username": request.user.display_name})

The registry is looked up on `request.app.state.strategies`; the names a guard
uses are recorded on the endpoint (`guarded_by`) so the application checks
them at start-up, where a typo fails the boot rather than a request.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence

from starlette.authentication import AuthCredentials
from starlette.requests import Request
from starlette.responses import Response

from authkit.errors import AuthenticationFailed
from authkit.registry import StrategyRegistry
from authkit.strategy import Fail, Success

__all__ = ["Endpoint", "authenticate", "guard", "guarded_by"]

Endpoint = Callable[[Request], Awaitable[Response]]
_GUARD_ATTRIBUTE = "__authkit_guard__"


async def authenticate(
    request: Request, registry: StrategyRegistry, names: Sequence[str]
) -> Success:
    """Run the chain; return the winning Success or raise AuthenticationFailed."""
    challenges: list[str] = []
    message: str | None = None
    for name in names:
        outcome = await registry.get(name).authenticate(request)
        if isinstance(outcome, Success):
            return outcome
        if not isinstance(outcome, Fail):
            raise TypeError(f"strategy {name!r} returned {outcome!r}, not Success or Fail")
        if outcome.challenge:
            challenges.append(outcome.challenge)
        message = message or outcome.message
    raise AuthenticationFailed(message, challenges)


def guard(*names: str) -> Callable[[Endpoint], Endpoint]:
    if not names or not all(isinstance(n, str) and n for n in names):
        raise TypeError("guard() needs one or more strategy names, e.g. @guard('jwt')")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            registry: StrategyRegistry = request.app.state.strategies
            success = await authenticate(request, registry, names)
            request.scope["user"] = success.user
            request.scope["auth"] = AuthCredentials(list(success.scopes))
            return await endpoint(request)

        setattr(guarded, _GUARD_ATTRIBUTE, names)
        return guarded

    return decorate


def guarded_by(endpoint: object) -> tuple[str, ...]:
    """The strategy names a `@guard` put on `endpoint`; empty when it is not guarded."""
    names: tuple[str, ...] = getattr(endpoint, _GUARD_ATTRIBUTE, ())
    return names
