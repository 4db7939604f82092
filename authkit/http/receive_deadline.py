"""A deadline for receiving a request: uvicorn's HTTP protocol, closing a connection whose
client has not sent a whole request in time.

uvicorn times only the idle wait between two requests (`timeout_keep_alive`, armed after
a response). A connection that never sends anything, or sends half a request line and
stops, is never timed: each one holds a file descriptor for good, and a few hundred of
them exhaust the process's descriptor limit, after which it accepts nobody.
`limit_concurrency` does not help: it answers 503 to a request that arrives, and these
never arrive. No ASGI middleware can help either: the app sees a request only once its
headers are in. So the deadline is kept where the bytes arrive, in the protocol: armed
when the connection opens and when a request begins, cleared when the request has been
received in full (headers and body), and on expiry the connection is closed.

`authkit serve` runs it (AUTHKIT_RECEIVE_TIMEOUT). uvicorn's own command line offers no
way to name a protocol class, so bare uvicorn runs without it (docs/deployment.md).

Example:

    import uvicorn

    config = uvicorn.Config("authkit.asgi:app", http=receive_deadline_protocol(10))
    # uvicorn.Server(config).run() would serve it
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["DEFAULT_RECEIVE_TIMEOUT", "ReceiveDeadlineProtocol", "receive_deadline_protocol"]

DEFAULT_RECEIVE_TIMEOUT = 10.0


class ReceiveDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes the connection `receive_timeout` seconds after it
    opened or a request began, unless that request has been received in full by then."""

    def __init__(
        self, *args: Any, receive_timeout: float = DEFAULT_RECEIVE_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.receive_timeout = receive_timeout
        self._receive_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is the WebSocket protocol's from here on
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._receive_deadline is None:
            self._receive_deadline = self.loop.call_later(self.receive_timeout, self._expire)

    def _disarm(self) -> None:
        if self._receive_deadline is not None:
            self._receive_deadline.cancel()
            self._receive_deadline = None

    def _expire(self) -> None:
        self._receive_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def receive_deadline_protocol(receive_timeout: float) -> type[asyncio.Protocol]:
    """What to give uvicorn as `http=`: the protocol with this deadline.

    A partial of a module-level class, not a class made here, so that it pickles into
    the worker processes `--workers` starts.
    """
    factory = functools.partial(ReceiveDeadlineProtocol, receive_timeout=receive_timeout)
    # uvicorn calls `http` to make each connection's protocol; any callable does.
    return cast("type[asyncio.Protocol]", factory)
