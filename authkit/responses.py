"""The one place where exceptions become HTTP responses.

Bodies follow the NestJS shape recorded in the contract, byte for byte:
`{"message": ..., "error": ..., "statusCode": ...}` as `application/json;
charset=utf-8`, with `error` left out when the message is just the status
phrase (NestJS's `new UnauthorizedException()`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authkit.errors import HTTPError

__all__ = ["JSON", "exception_handlers", "http_error_response"]

logger = logging.getLogger("authkit")


class JSON(JSONResponse):
    """JSONResponse with the charset parameter Express sends, so clients see identical headers."""

    media_type = "application/json; charset=utf-8"


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


async def _on_http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPError):  # registered for HTTPError only
        raise exc
    return http_error_response(exc)


async def _on_starlette_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code in (404, 405):
        # Express answers an unknown path and a known path with the wrong method alike.
        message = f"Cannot {request.method} {request.url.path}"
        return JSON(_body(404, message, "Not Found"), status_code=404)
    phrase = exc.detail if isinstance(exc.detail, str) else "Error"
    return JSON(_body(exc.status_code, phrase, None), status_code=exc.status_code)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # Only the exception type and route are logged: the message may quote client input.
    logger.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return JSON({"statusCode": 500, "message": "Internal server error"}, status_code=500)


exception_handlers: Mapping[Any, Any] = {
    HTTPError: _on_http_error,
    HTTPException: _on_starlette_http_exception,
    Exception: _on_unexpected,
}
