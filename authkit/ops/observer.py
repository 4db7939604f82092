"""The one layer every request meets (inside CORS, when that is on): the rules that hold
for every route, authkit's, yours and mounted apps', and the request's observation.

- every response says `nosniff`, and a redirect to the request's own origin goes out as a
  path, never naming the `Host` the client sent (authkit.http.response_headers);
- the strategy registry goes into the scope, where every guard finds it, a guard in a
  mounted application's route included (authkit.core.guard);
- the database breaker of this application is the one its database calls go through
  while the request is served (authkit.storage.breaker);
- a request id, one access-log line, and the HTTP metrics.

One layer for all of it: each layer is another call, and each that wraps `send` another
call per message, on every request. A CORS preflight, which CORS answers itself, gets its
`nosniff` there (authkit.http.cors).

It also answers any exception nothing else handled with NestJS's 500, logged
without its message (see authkit.responses); Starlette's own last-resort handler
would re-raise it and let the server log the message. And it answers a path that
ends in a newline with the 404 of an unknown path (authkit.http.paths says why):
here, in the layer that already wraps every request, rather than in one more.

The request id is the client's `X-Request-ID` when it is a sane token (at most
128 characters of letters, digits and `._:-`), otherwise a new random one; it is
echoed in the response and put in `request.state.request_id`. The access line
names the route's path, never the query string (tokens travel there by mistake),
and of the path only its first LOGGED_PATH_LENGTH characters.

Example:

    from authkit.core.registry import StrategyRegistry
    from authkit.ops.metrics import Metrics
    from authkit.storage.breaker import DatabaseBreaker

    breaker = DatabaseBreaker(lambda: db.command("ping"))
    observer = Middleware(
        RequestObserver,
        metrics=Metrics(),
        routes=routes,
        registry=StrategyRegistry(),
        breaker=breaker,
    )
    Starlette(routes=routes, middleware=[observer])
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Iterable

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit.core.guard import REGISTRY_SCOPE_KEY
from authkit.core.registry import StrategyRegistry
from authkit.http.headers import first_header
from authkit.http.paths import not_found
from authkit.http.response_headers import NOSNIFF, keep_redirect_relative
from authkit.http.responses import unexpected_error_response
from authkit.ops.access_line import LOGGED_PATH_LENGTH, access_log, log_access
from authkit.ops.metrics import NoMetrics
from authkit.storage.breaker import REQUEST_BREAKER, DatabaseBreaker

__all__ = ["LOGGED_PATH_LENGTH", "RequestObserver"]

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A request id names a request in the logs; it guards nothing, so it need not come from the
# operating system's generator (a system call per request): a generator seeded from it once.
# Reseeded in a forked worker (gunicorn --preload), or two workers would share a sequence.
_ids = random.Random()  # noqa: S311 - not a secret, see above
os.register_at_fork(after_in_child=_ids.seed)


def _incoming_request_id(scope: Scope) -> str | None:
    text = first_header(scope, b"x-request-id")
    return text if text is not None and _SANE_ID.match(text) else None


class RequestObserver:
    def __init__(
        self,
        app: ASGIApp,
        metrics: NoMetrics,
        routes: Iterable[BaseRoute],
        registry: StrategyRegistry,
        breaker: DatabaseBreaker,
        *,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.registry = registry
        self.breaker = breaker
        self.access_log = access_log
        # Metrics are labelled by route template, so their number stays bounded.
        self._templates = {r.endpoint: r.path for r in routes if isinstance(r, Route)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, send)
            return
        scope[REGISTRY_SCOPE_KEY] = self.registry
        token = REQUEST_BREAKER.set(self.breaker)
        if kind != "http":
            try:
                app = not_found if scope["path"].endswith("\n") else self.app
                await app(scope, receive, send)
            finally:
                REQUEST_BREAKER.reset(token)
            return
        # printf-style: an int as hex without the f-string's format-spec machinery
        request_id = _incoming_request_id(scope) or "%032x" % _ids.getrandbits(128)  # noqa: UP031
        scope.setdefault("state", {})["request_id"] = request_id
        added = ((b"x-request-id", request_id.encode("latin-1")), NOSNIFF)
        status: int | None = None
        started = time.perf_counter()

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if 300 <= status < 400:
                    keep_redirect_relative(message, scope)
                # A list of our own: the app's may be a tuple, or shared with another response.
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        try:
            app = not_found if scope["path"].endswith("\n") else self.app
            await app(scope, receive, send_observed)
        except Exception as exc:
            if status is not None:
                raise  # too late to answer; the server closes the connection
            response = unexpected_error_response(scope["method"], scope["path"], exc)
            await response(scope, receive, send_observed)
        finally:
            REQUEST_BREAKER.reset(token)
            seconds = time.perf_counter() - started
            status = status or 500
            endpoint = scope.get("endpoint")
            route = self._templates.get(endpoint, "unmatched") if endpoint else "unmatched"
            self.metrics.request(route, scope["method"], status, seconds)
            if self.access_log and access_log.isEnabledFor(logging.INFO):
                log_access(scope, route, status, seconds, request_id)

    # The access line's writer (authkit.ops.access_line), where the tests and bench reach it.
    _log_access = staticmethod(log_access)
