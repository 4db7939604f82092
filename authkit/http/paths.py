"""A path that ends in a newline is no route's path: Express's 404, as for any unknown path.

Starlette compiles a route's path to a regular expression ending in `$`, and Python's `$`
also matches just before a final newline: `^/healthz$` matches `/healthz\\n`, so
`GET /healthz%0A` would be served as `/healthz`. Express, which the contract follows, and
authkit before it used Starlette's router, answer that path with the 404 of an unknown
path. The front layer (authkit.http.front) keeps that answer for every route, authkit's
and yours, in front of the router; any other path goes straight through.

Example:

    assert ends_in_newline({"type": "http", "path": "/healthz\\n"})
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from authkit.http.responses import cannot

__all__ = ["ends_in_newline", "not_found"]


def ends_in_newline(scope: Scope) -> bool:
    if scope["type"] == "lifespan":
        return False
    path: str = scope["path"]
    return path.endswith("\n")


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """What the router answers a path no route has: Express's 404, or a closed WebSocket."""
    if scope["type"] == "websocket":
        await WebSocketClose()(scope, receive, send)  # what Starlette's router does
    else:
        await cannot(scope)(scope, receive, send)
