"""A path that ends in a newline is no route's path: Express's 404, as for any unknown path.

Starlette compiles a route's path to a regular expression ending in `$`, and Python's `$`
also matches just before a final newline: `^/healthz$` matches `/healthz\\n`, so
`GET /healthz%0A` would be served as `/healthz`. Express, which the contract follows, and
authkit before it used Starlette's router, answer that path with the 404 of an unknown
path. This layer keeps that answer for every route, authkit's and yours, in front of the
router; any other path goes straight through.

Example:

    Starlette(routes=routes, middleware=[Middleware(NewlinePathsNotFound)])
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from authkit.http.responses import cannot

__all__ = ["NewlinePathsNotFound"]


class NewlinePathsNotFound:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or not scope["path"].endswith("\n"):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)  # what Starlette's router does
        else:
            await cannot(scope)(scope, receive, send)
