"""authkit's errors rendered the same inside mounted Starlette applications (FastAPI's too).

Example:

    api = Starlette()
    render_authkit_errors(api)        # a guard's 401 inside `api` answers as authkit's does
    assert len(api.exception_handlers) == 1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from authkit.core.errors import HTTPError
from authkit.core.guard import GuardedApp
from authkit.http.responses import http_error_handler

__all__ = ["render_authkit_errors", "share_error_rendering"]


def share_error_rendering(routes: Sequence[BaseRoute]) -> None:
    """Give every mounted Starlette application (a FastAPI one included) authkit's handler
    for authkit's errors (`render_authkit_errors`).

    A mounted app answers exceptions with its own handlers, and one it has none for becomes
    its own 500: a guard's 401 raised in a FastAPI dependency would never reach authkit's.
    """
    for route in routes:
        if not isinstance(route, Mount):
            continue
        app: Any = route.app
        if isinstance(app, GuardedApp):
            app = app.app
        if isinstance(app, Starlette):
            render_authkit_errors(app)
        share_error_rendering(getattr(app, "routes", None) or ())


def render_authkit_errors(app: Starlette) -> None:
    """Render authkit's HTTPError in `app` as authkit does, unless `app` has a handler for
    it already; its other errors (FastAPI's 422, its HTTPException) stay its own.

    Call it before the app serves its first request: Starlette reads its handlers then.
    """
    for key in app.exception_handlers:
        # Exception is any app's last resort, and never meant as the answer to an HTTPError.
        if isinstance(key, type) and key is not Exception and issubclass(HTTPError, key):
            return
    app.add_exception_handler(HTTPError, http_error_handler)
