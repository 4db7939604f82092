"""The Starlette application authkit builds: Starlette with one layer fewer.

Starlette puts ServerErrorMiddleware outside everything, to answer an exception nothing
else handled. In authkit's application RequestObserver is that outermost handler already
(it answers NestJS's 500 and logs the exception without its message), so the outer
layer only added a call and a wrapped `send` to every request. It is left out when
RequestObserver comes right after it; any other arrangement, and debug mode, keep it.

Example:

    app = AuthkitStarlette(middleware=[Middleware(RequestObserver, metrics=m, routes=r)])
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp

from authkit.observability import RequestObserver

__all__ = ["AuthkitStarlette"]


class AuthkitStarlette(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if (
            not self.debug
            and isinstance(stack, ServerErrorMiddleware)
            and isinstance(stack.app, RequestObserver)
        ):
            return stack.app
        return stack
