"""The one place where exceptions become HTTP responses.

Bodies follow the NestJS shape recorded in the contract, byte for byte:
`{"message": ..., "error": ..., "statusCode": ...}` as `application/json;
charset=utf-8`, with `error` left out when the message is just the status
phrase (NestJS's `new UnauthorizedException()`).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from authkit.core.errors import BackendUnavailable, HTTPError

__all__ = [
    "JSON",
    "cannot",
    "exception_handlers",
    "http_error_handler",
    "http_error_response",
    "unexpected_error_response",
]

logger = logging.getLogger("authkit")


# JSONResponse's own render() calls json.dumps with options, which builds an encoder per
# response; one built once gives the same bytes for a sixth of /auth/me's time less.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_CONTENT_TYPE = (b"content-type", b"application/json; charset=utf-8")


class JSON(JSONResponse):
    """JSONResponse with the charset parameter Express sends, so clients see identical headers."""

    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return _ENCODER.encode(content).encode("utf-8")

    def init_headers(self, headers: Mapping[str, str] | None = None) -> None:
        status = self.status_code
        plain = headers is None and self.media_type == JSON.media_type
        if plain and status >= 200 and status not in (204, 304):
            # The two headers Response.init_headers writes in this, the usual case, without
            # its general checks: a request's JSON answer is much of what /auth/me does.
            self.raw_headers = [(b"content-length", b"%d" % len(self.body)), _CONTENT_TYPE]
        else:
            super().init_headers(headers)


def _body(status: int, message: str | list[str], error: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if error is not None and message != error:
        body["error"] = error
    body["statusCode"] = status
    return body


def http_error_response(exc: HTTPError) -> Response:
    return JSON(
        _body(exc.status_code, exc.message, exc.error),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """The exception handler for HTTPError, for authkit's app and any app mounted in it."""
    if not isinstance(exc, HTTPError):  # registered for HTTPError only
        raise exc
    if isinstance(exc, BackendUnavailable):
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.database_error()
    return http_error_response(exc)


async def _on_starlette_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code in (404, 405):
        # Starlette's router raises these for a path no route matches and for a known path
        # with the wrong method; Express answers both alike.
        return cannot(request.scope)
    phrase = exc.detail if isinstance(exc.detail, str) else "Error"
    return JSON(_body(exc.status_code, phrase, None), status_code=exc.status_code)


def cannot(scope: Scope) -> Response:
    """Express's 404 for the request in `scope`: "Cannot GET /path"."""
    # The path as the router saw it; request.url would rebuild and re-split a whole URL.
    path = scope.get("root_path", "") + scope["path"]
    return JSON(_body(404, f"Cannot {scope['method']} {path}", "Not Found"), status_code=404)


def unexpected_error_response(method: str, path: str, exc: BaseException) -> Response:
    """Log an unexpected exception safely and answer NestJS's 500.

    The type, the route and where it was raised are logged, never the message:
    it may quote client input, a password included.
    """
    logger.error(
        "unhandled %s on %s %s\n%s",
        type(exc).__name__,
        method,
        path,
        "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
    )
    return JSON({"statusCode": 500, "message": "Internal server error"}, status_code=500)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    return unexpected_error_response(request.method, request.url.path, exc)


exception_handlers: Mapping[Any, Any] = {
    HTTPError: http_error_handler,
    HTTPException: _on_starlette_http_exception,
    # A fallback only: RequestObserver answers unexpected errors first, because
    # Starlette's ServerErrorMiddleware, which runs this one, re-raises afterwards and
    # the server would then log the exception's message after all.
    Exception: _on_unexpected,
}
