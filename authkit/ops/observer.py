"""Per-request observation: a request id, one access-log line, and the HTTP metrics.

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

    from authkit.ops.metrics import Metrics

    m = Metrics()
    Starlette(routes=routes, middleware=[Middleware(RequestObserver, metrics=m, routes=routes)])
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

from authkit.http.client_address import client_ip_text
from authkit.http.headers import first_header
from authkit.http.paths import ends_in_newline, not_found
from authkit.http.responses import unexpected_error_response
from authkit.ops.logs import (
    JSONFormatter,
    clip,
    json_string,
    own_json_string,
    repr_of_round2,
    sole_json_handler,
)
from authkit.ops.metrics import NoMetrics

__all__ = ["LOGGED_PATH_LENGTH", "RequestObserver"]

access_log = logging.getLogger("authkit.access")
# The access line's head after its time, up to the message: what JSONFormatter.head writes.
_ACCESS_HEAD = f'"level": "info", "logger": {json_string(access_log.name)}, "message": '
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A request id names a request in the logs; it guards nothing, so it need not come from the
# operating system's generator (a system call per request): a generator seeded from it once.
# Reseeded in a forked worker (gunicorn --preload), or two workers would share a sequence.
_ids = random.Random()  # noqa: S311 - not a secret, see above
os.register_at_fork(after_in_child=_ids.seed)
# Far above any path authkit routes; the server lets a client send one of many kilobytes.
LOGGED_PATH_LENGTH = 1024


def _incoming_request_id(scope: Scope) -> str | None:
    text = first_header(scope, b"x-request-id")
    return text if text is not None and _SANE_ID.match(text) else None


class RequestObserver:
    def __init__(
        self,
        app: ASGIApp,
        metrics: NoMetrics,
        routes: Iterable[BaseRoute],
        *,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        # Metrics are labelled by route template, so their number stays bounded.
        self._templates = {r.endpoint: r.path for r in routes if isinstance(r, Route)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await (not_found if ends_in_newline(scope) else self.app)(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or f"{_ids.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        id_bytes = request_id.encode("latin-1")
        status: int | None = None
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # What MutableHeaders(scope=message).append() does, without building one.
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", id_bytes)]
            await send(message)

        try:
            await (not_found if ends_in_newline(scope) else self.app)(scope, receive, send_with_id)
        except Exception as exc:
            if status is not None:
                raise  # too late to answer; the server closes the connection
            response = unexpected_error_response(scope["method"], scope["path"], exc)
            await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            status = status or 500
            endpoint = scope.get("endpoint")
            route = self._templates.get(endpoint, "unmatched") if endpoint else "unmatched"
            self.metrics.request(route, scope["method"], status, seconds)
            if self.access_log and access_log.isEnabledFor(logging.INFO):
                self._log_access(scope, route, status, seconds, request_id)

    @staticmethod
    def _log_access(scope: Scope, route: str, status: int, seconds: float, request_id: str) -> None:
        method, path = scope["method"], scope["path"]
        if len(path) > LOGGED_PATH_LENGTH:
            path = clip(path, LOGGED_PATH_LENGTH)
        user = scope.get("user")
        user_id = user.identity if user is not None and user.is_authenticated else None
        address = client_ip_text(scope)
        # As shipped, the line's only destination is authkit's own JSON handler on stderr:
        # handing it the line skips the LogRecord, the handler chain and the general encoder,
        # and the handler writes a loop turn's lines together. Any other logging set-up gets
        # the record, as for every other event; the two lines are the same
        # (tests/unit/test_access_line.py).
        handler = sole_json_handler(access_log, logging.INFO)
        if handler is not None:
            fmt: JSONFormatter = handler.formatter  # type: ignore[assignment]
            # ASCII without DEL, the usual case, needs only the encoder's escapes.
            plain = (
                path.isascii() and method.isascii() and "\x7f" not in path and "\x7f" not in method
            )
            string = own_json_string if plain else json_string
            # format()'s line for this record, its constant parts written out once.
            handler.write_soon(
                f'{{"time": "{fmt.time_text(time.time())}", {_ACCESS_HEAD}'
                f"{string(f'{method} {path} {status}')}"
                f', "event": "request", "method": {string(method)}'
                f', "path": {string(path)}, "route": {own_json_string(route)}'
                f', "status": {int(status)}, "duration_ms": {repr_of_round2(seconds * 1000)}'
                f', "request_id": {own_json_string(request_id)}'
                f', "user_id": {fmt.json_scalar(user_id)}, "client": {fmt.json_scalar(address)}}}'
            )
            return
        duration_ms = round(seconds * 1000, 2)
        fields = {
            "event": "request",
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
            "user_id": user_id,
            "client": address,
        }
        # Logger.info() would also walk the stack for the caller's file and line, which no
        # formatter of ours prints. makeRecord() + handle() is info() without that walk.
        record = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %d",
            (method, path, status),
            None,
            extra={"fields": fields},
        )
        access_log.handle(record)
