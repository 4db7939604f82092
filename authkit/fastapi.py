"""authkit's guards for FastAPI: `Guard(...)`, a dependency with `@guard`'s chain and answers.

Needs FastAPI (`pip install 'authkit-asgi[fastapi]'`); authkit itself runs on Starlette
alone and imports this module only when asked to.

`Guard("jwt", "apikey", scopes=["admin"])` tries the strategies in order like `@guard`:
the first Success wins, and the path operation receives its principal (an
`AuthenticatedUser`; Starlette's `UnauthenticatedUser` after `anonymous`), which is also
on `request.user`, with the scopes on `request.auth`. When every strategy fails the
answer is authkit's 401, with every challenge in `WWW-Authenticate`; signed in without a
required scope, authkit's 403. Use it as `Depends(...)`, `Security(...)` or in
`dependencies=[...]` of an operation, a router or the app.

The registry: mount the FastAPI app in `create_app(settings, routes=[Mount("/api",
app=api)])`. authkit's middleware then puts the registry in every request's scope, its
start-up check covers the FastAPI routes' guards (a strategy name nobody registered, or
`@guard` on a path operation, stops the boot), and the FastAPI app is given authkit's
handler for authkit's errors, so they render in authkit's JSON shape. A FastAPI app
served on its own gets the same from `install(api, registry)`.

FastAPI's OpenAPI document lists, for each guarded operation, the security scheme of each
strategy that declares an `openapi_scheme` (the same dictionary authkit's /openapi.json
uses), found through the strategy's `authkit.strategies` entry point when the guard is
built. A strategy known only from AUTHKIT_STRATEGIES or the strategies/ folder guards the
route all the same but is not shown there.

Example:

    from fastapi import Depends, FastAPI
    from starlette.routing import Mount
    from authkit import AuthenticatedUser, create_app, load_settings
    from authkit.fastapi import Guard

    api = FastAPI()

    @api.get("/profile")
    async def profile(user: AuthenticatedUser = Depends(Guard("jwt"))) -> dict[str, str]:
        return {"hello": user.display_name}

    app = create_app(load_settings(os.environ), routes=[Mount("/api", app=api)])
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

try:
    from fastapi import FastAPI, Security
    from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
    from fastapi.security.base import SecurityBase
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "authkit.fastapi needs FastAPI, which authkit does not install: "
        "pip install 'authkit-asgi[fastapi]' (or pip install fastapi)"
    ) from exc
from starlette.applications import Starlette
from starlette.authentication import BaseUser
from starlette.requests import Request

from authkit.core.feature import DescribesSecurity
from authkit.core.guard import _GUARD_ATTRIBUTE, REGISTRY_SCOPE_KEY, check_guards
from authkit.core.guard import Guard as _Rule
from authkit.core.registry import ENTRY_POINT_GROUP, StrategyRegistry
from authkit.http.mounted import render_authkit_errors

__all__ = ["Guard", "StrategyScheme", "install"]


class StrategyScheme(SecurityBase):
    """A strategy's `openapi_scheme` as FastAPI's security scheme, for the OpenAPI document.

    It checks nothing (the guard's strategies do): FastAPI's own classes would read the
    credential a second time, and HTTPBasic answers a malformed header with its own 401
    even with auto_error=False, before the chain could try the next strategy.
    """

    def __init__(self, strategy: str, scheme: Mapping[str, Any]) -> None:
        self.model = SecuritySchemeModel.model_validate(dict(scheme))
        self.scheme_name = strategy

    async def __call__(self) -> None:
        return None


@functools.cache
def _scheme_of(name: str) -> StrategyScheme | None:
    """The scheme the strategy `name` declares, from its entry point's class; None if none."""
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name != name:
            continue
        try:
            factory = entry_point.load()
        except Exception:  # the registry reports a plugin that fails to import, at start-up
            return None
        if not isinstance(factory, DescribesSecurity):
            return None
        return StrategyScheme(name, factory.openapi_scheme)
    return None


class Guard:
    """A FastAPI dependency that admits a request as `@guard(*names, scopes=...)` does.

    It returns the principal the winning strategy found, and fills `request.user` and
    `request.auth`. Errors are authkit's (`AuthenticationFailed`, `InsufficientScope`,
    `BackendUnavailable`), rendered by authkit's handler (see the module's docstring).
    """

    def __init__(self, *names: str, scopes: Iterable[str] = ()) -> None:
        self.rule = _Rule(tuple(names), tuple(scopes))
        # What authkit's start-up check and guards_in() recognise as a guard.
        setattr(self, _GUARD_ATTRIBUTE, self.rule)
        parameters = [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        ]
        for index, name in enumerate(self.rule.names):
            scheme = _scheme_of(name)
            if scheme is not None:
                # A sub-dependency only so FastAPI's document lists the scheme: one
                # requirement per strategy, alternatives in the chain's order.
                default = Security(scheme, scopes=list(self.rule.scopes))
                parameters.append(
                    inspect.Parameter(
                        f"credential_{index}", inspect.Parameter.KEYWORD_ONLY, default=default
                    )
                )
        # FastAPI reads a dependency's parameters from its signature.
        self.__signature__ = inspect.Signature(parameters, return_annotation=BaseUser)

    def __repr__(self) -> str:
        names = ", ".join(repr(n) for n in self.rule.names)
        scopes = f", scopes={list(self.rule.scopes)!r}" if self.rule.scopes else ""
        return f"Guard({names}{scopes})"

    async def __call__(self, request: Request, **schemes: Any) -> BaseUser:
        if REGISTRY_SCOPE_KEY not in request.scope and not hasattr(request.app.state, "strategies"):
            raise RuntimeError(
                f"{self!r} found no strategy registry: mount the FastAPI app in authkit's "
                "create_app(settings, routes=[Mount(...)]) or call authkit.fastapi.install()"
            )
        success = await self.rule.admit(request)
        return success.user


def install(app: FastAPI, strategies: StrategyRegistry | Starlette) -> None:
    """Serve a FastAPI app's guards on its own, outside authkit's `create_app`.

    `strategies` is the registry, or an application `create_app` built (its registry is
    taken). The FastAPI app gets authkit's handler for authkit's errors, and its guards'
    strategy names are checked now and again when it starts (its lifespan), so a typo
    or `@guard` on a path operation stops the start rather than a request.
    """
    registry = (
        strategies if isinstance(strategies, StrategyRegistry) else strategies.state.strategies
    )
    if not isinstance(registry, StrategyRegistry):
        raise TypeError(f"{strategies!r} is neither a StrategyRegistry nor an authkit app")
    app.state.strategies = registry
    render_authkit_errors(app)
    check_guards(list(app.routes), registry)
    original = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def checked(asgi_app: Any) -> AsyncIterator[Any]:
        check_guards(list(app.routes), registry)  # routes added after install() too
        async with original(asgi_app) as state:
            yield state

    app.router.lifespan_context = checked
