"""The Starlette application authkit builds: Starlette's layers, two of them lighter.

A request passes every layer of the middleware stack, and on `/auth/me` the two that
Starlette always adds cost a sixth of authkit's instructions (tests/bench/run.py instructions):

- ServerErrorMiddleware, outside everything, answers an exception nothing else handled.
  In authkit's application RequestObserver is that outermost handler already (NestJS's
  500, logged without its message), so it is left out when RequestObserver comes right
  after it; any other arrangement, and debug mode, keep it.
- ExceptionMiddleware, inside, maps exceptions to the application's handlers. Starlette's
  builds, for every request, a Request and a wrapped app for the exception that may
  come; LeanExceptionMiddleware does the same mapping and builds those only when one
  comes (it still wraps `send`, to know whether the response has started).

Example:

    app = AuthkitStarlette(middleware=[Middleware(RequestObserver, metrics=m, routes=r)])
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit.ops.observer import RequestObserver

__all__ = ["AuthkitStarlette", "LeanExceptionMiddleware"]


class AuthkitStarlette(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        self._lighten_exception_layer(stack)
        if (
            not self.debug
            and isinstance(stack, ServerErrorMiddleware)
            and isinstance(stack.app, RequestObserver)
        ):
            return stack.app
        return stack

    def _lighten_exception_layer(self, stack: ASGIApp) -> None:
        # Every layer Starlette and authkit stack keeps the next one in `.app`; should one
        # not, Starlette's own ExceptionMiddleware simply stays.
        layer: Any = stack
        while (inner := getattr(layer, "app", None)) is not None:
            if type(inner) is ExceptionMiddleware:
                layer.app = LeanExceptionMiddleware.replacing(inner)
                return
            layer = inner


class LeanExceptionMiddleware(ExceptionMiddleware):
    """Starlette's ExceptionMiddleware; for HTTP, the Request is built only for a handler.

    The mapping is Starlette's (`starlette._exception_handler`): a status handler for an
    HTTPException first, then the nearest class in the exception's MRO; no handler
    re-raises; an exception after the response started is a RuntimeError. WebSockets go
    through Starlette's own code.
    """

    @classmethod
    def replacing(cls, starlettes: ExceptionMiddleware) -> LeanExceptionMiddleware:
        """The same layer, lighter: the app it wraps and the handlers Starlette gave it."""
        lean = cls(starlettes.app, debug=starlettes.debug)
        lean._exception_handlers = starlettes._exception_handlers
        lean._status_handlers = starlettes._status_handlers
        return lean

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # Routes wrapped by Starlette's request_response() find the handlers here.
        scope["starlette.exception_handlers"] = (self._exception_handlers, self._status_handlers)
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sender)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            if started:
                raise RuntimeError(
                    "Caught handled exception, but response already started."
                ) from exc
            request = Request(scope, receive, send)
            if _is_async(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            if response is not None:
                await response(scope, receive, sender)
            # Reused exception instances accumulate tracebacks across requests.
            exc.__traceback__ = None

    def _handler_for(self, exc: Exception) -> Any:
        if isinstance(exc, HTTPException) and exc.status_code in self._status_handlers:
            return self._status_handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self._exception_handlers:
                return self._exception_handlers[cls]
        return None


def _is_async(handler: Any) -> bool:
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 (an object with an async __call__)
    )
