"""Two rules every response keeps, whichever route, handler or mounted app made it:

- `X-Content-Type-Options: nosniff`: a body is what its Content-Type says. A 404's JSON
  quotes the path it was asked for, and a browser that sniffed it as HTML would run
  whatever that path carried.
- A redirect to the request's own origin goes out as a path (`Location: /auth/me`), not
  as an absolute URL. Starlette builds that URL from the request's `Host` header, so a
  client that sent `Host: evil.example` got `Location: http://evil.example/auth/me`; a
  cache in front would hand that to everyone. A path resolves against whatever host the
  browser really asked. Redirects elsewhere are left as they are.

Example:

    Starlette(routes=routes, middleware=[Middleware(ResponseHeaders)])
"""

from __future__ import annotations

from starlette.datastructures import URL, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ResponseHeaders"]


class ResponseHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                if 300 <= message["status"] < 400 and "location" in headers:
                    headers["location"] = _relative_if_own(headers["location"], scope)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _relative_if_own(location: str, scope: Scope) -> str:
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
