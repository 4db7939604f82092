"""A Starlette Router that finds a fixed-path route by dictionary lookup instead of a scan.

Starlette's Router tries every route in order, a regular-expression match each
(about 1 µs apiece), and for a path nothing matches it scans them all a second
time looking for a trailing-slash redirect. authkit has sixteen routes before a
plugin adds any, so a 404 paid for thirty-two matches. This router keeps
Starlette's rules exactly (first full match wins, a method mismatch gives 405,
the slash redirect) but only asks the routes that can match the path: the
fixed-path routes registered under it, plus every route whose matching depends on
more than the path's text (path parameters, mounts, hosts, subclasses with their
own `matches`), in their original order.

The index follows `router.routes`: `app.add_route()`, `app.mount()` or any change
to the list rebuilds it before the next request. One difference: a fixed path's
regular expression in Starlette (`^/auth/me$`) also matches the path with a newline
after it (`/auth/me%0A`); here that path matches nothing and gets the 404.

Example:

    app = Starlette(middleware=...)
    app.router = IndexedRouter(routes, lifespan=lifespan)
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, SupportsIndex

from starlette._utils import get_route_path
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import BaseRoute, Match, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectRoute", "IndexedRouter"]


class _RouteList(list[BaseRoute]):
    """The router's route list: every change marks the router's index as stale."""

    def __init__(self, routes: Iterable[BaseRoute], on_change: Any) -> None:
        super().__init__(routes)
        self._on_change = on_change

    def append(self, route: BaseRoute) -> None:
        self._on_change()
        super().append(route)

    def extend(self, routes: Iterable[BaseRoute]) -> None:
        self._on_change()
        super().extend(routes)

    def insert(self, index: SupportsIndex, route: BaseRoute) -> None:
        self._on_change()
        super().insert(index, route)

    def remove(self, route: BaseRoute) -> None:
        self._on_change()
        super().remove(route)

    def pop(self, index: SupportsIndex = -1) -> BaseRoute:
        self._on_change()
        return super().pop(index)

    def clear(self) -> None:
        self._on_change()
        super().clear()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._on_change()
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        self._on_change()
        super().reverse()

    def __setitem__(self, index: Any, value: Any) -> None:
        self._on_change()
        super().__setitem__(index, value)

    def __delitem__(self, index: Any) -> None:
        self._on_change()
        super().__delitem__(index)

    def __iadd__(self, routes: Iterable[BaseRoute]) -> _RouteList:  # type: ignore[override,misc]
        self._on_change()
        return super().__iadd__(routes)

    def __imul__(self, times: SupportsIndex) -> _RouteList:
        self._on_change()
        return super().__imul__(times)


def _fixed_path(route: BaseRoute) -> str | None:
    """The one path `route` can match, or None when its matching needs more than equality."""
    for kind in (Route, WebSocketRoute):
        if type(route).matches is kind.matches and isinstance(route, kind):
            return None if route.param_convertors else route.path
    return None


class _Index:
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        by_path: dict[str, list[BaseRoute]] = {}
        others: list[BaseRoute] = []
        paths = [_fixed_path(route) for route in routes]
        for path in paths:
            if path is not None:
                by_path.setdefault(path, [])
        for route, path in zip(routes, paths, strict=True):
            if path is None:
                others.append(route)
                for candidates in by_path.values():
                    candidates.append(route)
            else:
                by_path[path].append(route)
        self.by_path = {path: tuple(candidates) for path, candidates in by_path.items()}
        self.others = tuple(others)

    def candidates(self, route_path: str) -> tuple[BaseRoute, ...]:
        return self.by_path.get(route_path, self.others)


class IndexedRouter(Router):
    _index: _Index | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[BaseRoute]) -> None:
        self._routes = _RouteList(routes, self._forget_index)
        self._index = None

    def _forget_index(self) -> None:
        self._index = None

    def _candidates(self, route_path: str) -> tuple[BaseRoute, ...]:
        index = self._index
        if index is None:
            index = self._index = _Index(self._routes)
        return index.candidates(route_path)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's Router.app, with self.routes replaced by the candidates for the path.
        if scope["type"] not in ("http", "websocket"):
            await super().app(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = self

        route_path = get_route_path(scope)
        partial = None
        for route in self._candidates(route_path):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope

        if partial is not None:
            # Answers 405 Method Not Allowed.
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return

        if scope["type"] == "http" and self.redirect_slashes and route_path != "/":
            redirect_scope = dict(scope)
            if route_path.endswith("/"):
                redirect_scope["path"] = redirect_scope["path"].rstrip("/")
            else:
                redirect_scope["path"] = redirect_scope["path"] + "/"
            for route in self._candidates(get_route_path(redirect_scope)):
                match, _ = route.matches(redirect_scope)
                if match is not Match.NONE:
                    response = RedirectResponse(url=str(URL(scope=redirect_scope)))
                    await response(scope, receive, send)
                    return

        await self.default(scope, receive, send)


class DirectRoute(Route):
    """A Route whose async endpoint runs without Starlette's per-route exception wrapper.

    `request_response()` wraps every endpoint in the exception handling that the
    application's ExceptionMiddleware already applies around the whole router: the same
    handlers a second time, and a second layer on every message sent (12k of 215k
    instructions per `/auth/me`). authkit's routes are always served inside such an
    application, so they skip the inner copy; an exception raised by the endpoint reaches
    the same handler one layer further out. Sync endpoints, route middleware and body
    limits keep Starlette's wrapping.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        wrapped = options.get("middleware") is not None or options.get("max_body_size") is not None
        if inspect.iscoroutinefunction(endpoint) and not wrapped:
            self.app = _call_endpoint(endpoint)


def _call_endpoint(endpoint: Callable[[Request], Awaitable[Any]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app
