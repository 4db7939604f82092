"""Starlette's CORS layer, with `nosniff` on the preflight answers it gives itself.

CORS answers a preflight (`OPTIONS` with `Access-Control-Request-Method`) before any app,
the request observer included, sees the request; the observer adds `nosniff` to every other
answer (authkit.http.response_headers says why every answer carries it).

Example:

    app = Starlette(routes=routes, middleware=[Middleware(CORS, allow_origins=["https://app.example"])])
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from authkit.http.response_headers import NOSNIFF

__all__ = ["CORS"]


class CORS(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        response.raw_headers.append(NOSNIFF)
        return response
