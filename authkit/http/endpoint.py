"""`Endpoint(handler)`: one of authkit's own request handlers as the ASGI app its Route calls.

Given a function, Starlette's `Route` wraps it in `request_response`, which also gives the
route an exception layer of its own: the handlers looked up again and every `send` wrapped,
on every request. authkit's handlers raise only what the application's exception layer, in
front of the router, answers the same way, so their routes call them as ASGI apps (a
`Route` endpoint may be any ASGI app) and skip that second layer. Your routes are yours to
write either way.

Example:

    async def hello(request: Request) -> Response:
        return JSONResponse({"hello": "world"})

    app = Starlette(routes=[Route("/hello", Endpoint(hello), methods=["GET"])])
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["Endpoint"]

Handler = Callable[[Request], Awaitable[Response]]


class Endpoint:
    """`handler` as an ASGI app; its name, docstring and attributes (a guard, an OpenAPI
    operation) stay readable on it, for the router's names, guards_in and the document."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        functools.update_wrapper(self, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)
