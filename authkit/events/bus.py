"""The event bus: `await bus.emit(Event(...))` hands an event to every subscribed handler,
in the background; the request that emitted it never waits for, or fails with, a handler.

Delivery, per process: one queue and one worker task. Events are delivered one at a time
in the order they were emitted, each to every handler in turn, in the order they were
subscribed (the `authkit.events` entry points by name). A handler that raises is logged
(`authkit.events`, with its traceback) and the next one runs; one that takes longer than
`handler_timeout` is cancelled and logged. When `queue_size` events already wait, a new
one is dropped and logged: a flood of sign-ins never grows memory without bound, and
never slows a request down. Events still waiting when the application stops are not
delivered (their number is logged); delivery is at most once, so an audit trail that
must not lose a record belongs in the same write as the change, not here.

An event's `data` never holds a secret (no password, token or code): handlers may log
it, store it or send it elsewhere.

Example (audit to a collection, a handler made from the context with its database):

    from authkit.plugin import StrategyContext, call_database

    def audit_to_collection(ctx: StrategyContext) -> Handler:
        audit = ctx.database["audit"]

        async def record(event: Event) -> None:
            doc = {"event": event.name, "user_id": event.user_id, "at": event.at, **event.data}
            await call_database(audit.insert_one, doc)

        return record

    bus = EventBus()
    bus.subscribe(audit_to_collection(ctx))
    await bus.emit(Event("signup", "6650…", {"username": "alice"}))
    await bus.drain()
    assert db["audit"].find_one({"event": "signup"})["username"] == "alice"

Example (a welcome mail, sent off the request by whatever sender the plugin has):

    sent: list[str] = []

    async def send_mail(to: str, subject: str, body: str) -> None:
        sent.append(f"{to}: {subject}")     # smtplib in a thread, or the mail sender

    async def welcome(event: Event) -> None:
        if event.name == "signup":
            await send_mail(event.data["username"], "Welcome", "Glad you joined.")

    bus = EventBus([welcome])
    await bus.emit(Event("signup", "6650…", {"username": "alice"}))
    await bus.drain()
    assert sent == ["alice: Welcome"]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import attrs

__all__ = ["Event", "EventBus", "Handler"]

logger = logging.getLogger("authkit.events")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@attrs.frozen
class Event:
    """Something that happened to a user: `name` (see docs/accounts.md for the list),
    the user's id (None when there is no user yet), `data` without secrets, and when."""

    name: str
    user_id: str | None
    data: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen)
    at: datetime = attrs.field(factory=_now)


Handler = Callable[[Event], Awaitable[None]]


def _handler_name(handler: Handler) -> str:
    module = getattr(handler, "__module__", "?")
    return f"{module}.{getattr(handler, '__qualname__', type(handler).__name__)}"


class EventBus:
    def __init__(
        self,
        handlers: Iterable[Handler] = (),
        *,
        queue_size: int = 1000,
        handler_timeout: float = 10.0,
    ) -> None:
        self._handlers = list(handlers)
        self._queue_size = queue_size
        self._timeout = handler_timeout
        # One queue and worker per event loop: a test client may run the app on a new one.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Event] | None = None
        self._worker: asyncio.Task[None] | None = None

    @property
    def handlers(self) -> tuple[Handler, ...]:
        return tuple(self._handlers)

    def subscribe(self, handler: Handler) -> None:
        """Deliver every later event to `handler` too, after the handlers subscribed before."""
        self._handlers.append(handler)

    async def emit(self, event: Event) -> None:
        """Queue `event` for the handlers and return at once; it never raises."""
        if not self._handlers:
            return
        try:
            self._queue_for(asyncio.get_running_loop()).put_nowait(event)
        except asyncio.QueueFull:
            logger.warning(
                "event dropped: %d events already wait for their handlers",
                self._queue_size,
                extra={"fields": {"event": "event_dropped", "name": event.name}},
            )

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every event emitted so far was handled (tests, a graceful stop)."""
        if self._queue is not None and self._loop is asyncio.get_running_loop():
            await asyncio.wait_for(self._queue.join(), timeout)

    def close(self) -> None:
        """Stop delivering; events still waiting are logged as lost, never handled."""
        waiting = 0 if self._queue is None else self._queue.qsize()
        if self._worker is not None:
            self._worker.cancel()
        self._loop = self._queue = self._worker = None
        if waiting:
            logger.warning(
                "%d event(s) not delivered: the application stopped first",
                waiting,
                extra={"fields": {"event": "events_lost", "count": waiting}},
            )

    def _queue_for(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[Event]:
        if self._queue is None or self._loop is not loop or self._worker is None:
            self._loop, self._queue = loop, asyncio.Queue(self._queue_size)
            self._worker = loop.create_task(self._deliver(self._queue), name="authkit-events")
        return self._queue

    async def _deliver(self, queue: asyncio.Queue[Event]) -> None:
        while True:
            event = await queue.get()
            try:
                for handler in list(self._handlers):
                    await self._run(handler, event)
            finally:
                queue.task_done()

    async def _run(self, handler: Handler, event: Event) -> None:
        fields = {"event": "event_handler_failed", "name": event.name}
        try:
            await asyncio.wait_for(handler(event), self._timeout)
        except asyncio.TimeoutError:
            logger.error(
                "event handler %s timed out on %s after %s s",
                _handler_name(handler),
                event.name,
                self._timeout,
                extra={"fields": {**fields, "reason": "timeout"}},
            )
        except Exception:
            logger.exception(
                "event handler %s failed on %s",
                _handler_name(handler),
                event.name,
                extra={"fields": {**fields, "reason": "raised"}},
            )
