"""The layer every request meets first, in front of CORS and the request observer.

It keeps the rules that hold for every route, authkit's, yours and mounted apps':

- every response says `nosniff`, and a redirect to the request's own origin goes out as a
  path, never naming the `Host` the client sent (authkit.http.response_headers);
- the strategy registry goes into the scope, where every guard finds it, a guard in a
  mounted application's route included (authkit.core.guard);
- the database breaker of this application is the one its database calls go through
  while the request is served (authkit.storage.breaker).

One layer for all three: each layer is another call, and each that wraps `send` another call
per message, on every request, and these rules are cheap. (A path that ends in a newline
is refused by the request observer, inside CORS, so that its 404 is logged and carries a
request id like any other: authkit.http.paths.)

Example:

    from authkit.storage.breaker import DatabaseBreaker

    breaker = DatabaseBreaker(lambda: db.command("ping"))
    app = Starlette(
        routes=routes, middleware=[Middleware(Front, registry=registry, breaker=breaker)]
    )
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit.core.guard import REGISTRY_SCOPE_KEY
from authkit.core.registry import StrategyRegistry
from authkit.http.response_headers import keep_response_rules
from authkit.storage.breaker import REQUEST_BREAKER, DatabaseBreaker

__all__ = ["Front"]


class Front:
    def __init__(self, app: ASGIApp, registry: StrategyRegistry, breaker: DatabaseBreaker) -> None:
        self.app = app
        self.registry = registry
        self.breaker = breaker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        scope[REGISTRY_SCOPE_KEY] = self.registry
        token = REQUEST_BREAKER.set(self.breaker)
        try:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return

            async def send_keeping_rules(message: Message) -> None:
                if message["type"] == "http.response.start":
                    keep_response_rules(message, scope)
                await send(message)

            await self.app(scope, receive, send_keeping_rules)
        finally:
            REQUEST_BREAKER.reset(token)
