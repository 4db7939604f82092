"""Two rules every response keeps, whichever route, handler or mounted app made it:

- `X-Content-Type-Options: nosniff`: a body is what its Content-Type says. A 404's JSON
  quotes the path it was asked for, and a browser that sniffed it as HTML would run
  whatever that path carried.
- A redirect to the request's own origin goes out as a path (`Location: /auth/me`), not
  as an absolute URL. Starlette builds that URL from the request's `Host` header, so a
  client that sent `Host: evil.example` got `Location: http://evil.example/auth/me`; a
  cache in front would hand that to everyone. A path resolves against whatever host the
  browser really asked. Redirects elsewhere are left as they are.

The request observer (authkit.ops.observer) applies both to each response's start message,
adding NOSNIFF in the same copy of the headers as the request id; a CORS preflight, which
CORS answers before any app sees the request, gets NOSNIFF from authkit.http.cors.

Example:

    scope = {"type": "http", "scheme": "http", "path": "/", "headers": [(b"host", b"testserver")]}
    start = {"type": "http.response.start", "status": 302}
    start["headers"] = [(b"location", b"http://testserver/auth/me")]
    keep_redirect_relative(start, scope)
    assert start["headers"] == [(b"location", b"/auth/me")]
"""

from __future__ import annotations

from starlette.datastructures import URL, MutableHeaders
from starlette.types import Message, Scope

__all__ = ["NOSNIFF", "keep_redirect_relative"]

NOSNIFF = (b"x-content-type-options", b"nosniff")


def keep_redirect_relative(message: Message, scope: Scope) -> None:
    """For `message`, a 3xx `http.response.start` for `scope`'s request: a Location on
    the request's own origin becomes a path."""
    if "headers" not in message:
        return  # no Location to rewrite
    headers = MutableHeaders(scope=message)
    if "location" in headers:
        headers["location"] = _relative_if_own(headers["location"], scope)


def _relative_if_own(location: str, scope: Scope) -> str:
    try:
        return _relative(location, scope)
    except ValueError:
        # A Location (or a Host) that does not parse as a URL names no origin we can
        # compare: it goes out as the app wrote it.
        return location


def _relative(location: str, scope: Scope) -> str:
    target = URL(location)
    if not target.netloc:
        return location  # already relative
    own = URL(scope=scope)
    if (target.scheme, target.netloc.lower()) != (own.scheme, own.netloc.lower()):
        return location
    # One leading slash only: `//host/x` (or `/\\host/x`) would be another host again.
    relative = "/" + target.path.lstrip("/\\")
    if target.query:
        relative += "?" + target.query
    if target.fragment:
        relative += "#" + target.fragment
    return relative
