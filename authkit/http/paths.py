"""A path that ends in a newline is no route's path: Express's 404, as for any unknown path.

Starlette compiles a route's path to a regular expression ending in `$`, and Python's `$`
also matches just before a final newline: `^/healthz$` matches `/healthz\\n`, so
`GET /healthz%0A` would be served as `/healthz`. Express, which the contract follows, and
authkit before it used Starlette's router, answer that path with the 404 of an unknown
path. The request observer (authkit.ops.observer) keeps that answer for every route,
authkit's and yours, in front of the router, by sending such a path to `not_found`; any
other path goes straight through.

Example:

    scope = {"type": "websocket", "path": "/healthz\\n"}
    app = not_found if scope["path"].endswith("\\n") else ...
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketClose

from authkit.http.responses import cannot

__all__ = ["not_found"]


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """What the router answers a path no route has: Express's 404, or a closed WebSocket."""
    if scope["type"] == "websocket":
        await WebSocketClose()(scope, receive, send)  # what Starlette's router does
    else:
        await cannot(scope)(scope, receive, send)
