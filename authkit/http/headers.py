"""Reading a request header from the ASGI scope's raw list.

`request.headers.get(name)` builds a Starlette Headers object first; on the per-request
path (the request id, the bearer token) one pass over the raw pairs is all it takes.
Same answer as Headers.get: the first header of that name, decoded as Latin-1.

Example:

    first_header(request.scope, b"authorization")     # "Bearer ey..." or None
"""

from __future__ import annotations

from starlette.types import Scope

__all__ = ["first_header"]


def first_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower-case bytes, as ASGI gives names); None if absent."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None
