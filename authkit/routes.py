"""The seed's three routes: POST /auth/signup, POST /auth/signin, GET /auth/me.

Example:

    Starlette(routes=auth_routes(service, max_body_bytes=16384))
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from authkit.body import read_fields
from authkit.dto import SignupCredentials
from authkit.guard import guard
from authkit.responses import JSON
from authkit.service import AuthService
from authkit.strategy import AuthenticatedUser

__all__ = ["auth_routes"]


def auth_routes(service: AuthService, max_body_bytes: int) -> list[Route]:
    async def sign_up(request: Request) -> Response:
        credentials = SignupCredentials.from_body(await read_fields(request, max_body_bytes))
        await service.sign_up(credentials)
        return Response(status_code=201)

    @guard("local")
    async def sign_in(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        body = service.sign_in(user_id=principal.id, username=principal.username)
        return JSON(body, status_code=201)

    @guard("jwt")
    async def me(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        return JSON({"_id": principal.id, "username": principal.username})

    async def root(request: Request) -> Response:
        # The NestJS starter's greeting, kept so a client probing `/` sees what it saw before.
        return HTMLResponse("Hello World!")

    return [
        Route("/", root, methods=["GET"]),
        Route("/auth/signup", sign_up, methods=["POST"]),
        Route("/auth/signin", sign_in, methods=["POST"]),
        Route("/auth/me", me, methods=["GET"]),
    ]
