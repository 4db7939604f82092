"""Two rules every response keeps, whichever route, handler or mounted app made it:

- `X-Content-Type-Options: nosniff`: a body is what its Content-Type says. A 404's JSON
  quotes the path it was asked for, and a browser that sniffed it as HTML would run
  whatever that path carried.
- A redirect to the request's own origin goes out as a path (`Location: /auth/me`), not
  as an absolute URL. Starlette builds that URL from the request's `Host` header, so a
  client that sent `Host: evil.example` got `Location: http://evil.example/auth/me`; a
  cache in front would hand that to everyone. A path resolves against whatever host the
  browser really asked. Redirects elsewhere are left as they are.

The front layer (authkit.http.front) applies them to each response's start message.

Example:

    message = {"type": "http.response.start", "status": 200, "headers": []}
    keep_response_rules(message, {"type": "http", "scheme": "http", "headers": []})
    assert (b"x-content-type-options", b"nosniff") in message["headers"]
"""

from __future__ import annotations

from starlette.datastructures import URL, MutableHeaders
from starlette.types import Message, Scope

__all__ = ["keep_response_rules"]

_NOSNIFF = (b"x-content-type-options", b"nosniff")


def keep_response_rules(message: Message, scope: Scope) -> None:
    """Apply both rules to `message`, an `http.response.start` for `scope`'s request."""
    status = message["status"]
    if 300 <= status < 400:
        headers = MutableHeaders(scope=message)
        if "location" in headers:
            headers["location"] = _relative_if_own(headers["location"], scope)
    # A list of our own: the app's may be a tuple, or shared with another response.
    message["headers"] = [*message.get("headers", ()), _NOSNIFF]


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
