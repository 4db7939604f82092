"""Bare Starlette JSON hello: the `GET /` baseline that authkit's /auth/me is compared with.

The same app as shared/reference/fastapi-users-peer/hello_starlette.py, vendored so that a
clone without ../shared can run it; only the type annotations are new.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/", hello)])
