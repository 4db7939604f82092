"""A small application for tests/plugins: authkit's app plus routes guarded by the example
plugins' strategies, built from the environment like `app:app`.

    uvicorn demo_app:app --app-dir tests/plugins

Each demo route answers with who got in and how, so a test can tell which strategy won:

    GET /demo/either          @guard("jwt", "apikey")
    GET /demo/basic           @guard("basic")
    GET /demo/reports         @guard("apikey", scopes=["reports:read"])
    GET /demo/internal/status Mount + GuardedApp(..., "basic", "apikey")
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from app import create_app
from authkit import guard
from authkit.guard import GuardedApp
from authkit.logs import configure_logging
from authkit.responses import JSON
from config import load_settings


def who(request: Request) -> Response:
    user = request.user
    claims = getattr(user, "claims", {})
    return JSON(
        {
            "id": user.identity,
            "username": user.display_name,
            "scopes": list(request.auth.scopes),
            "apiKeyId": claims.get("api_key_id"),
        }
    )


@guard("jwt", "apikey")
async def either(request: Request) -> Response:
    return who(request)


@guard("basic")
async def basic_only(request: Request) -> Response:
    return who(request)


@guard("apikey", scopes=["reports:read"])
async def reports(request: Request) -> Response:
    return who(request)


async def status(request: Request) -> Response:
    return who(request)


demo_routes: list[BaseRoute] = [
    Route("/demo/either", either, methods=["GET"]),
    Route("/demo/basic", basic_only, methods=["GET"]),
    Route("/demo/reports", reports, methods=["GET"]),
    Mount(
        "/demo/internal",
        app=GuardedApp(Starlette(routes=[Route("/status", status)]), "basic", "apikey"),
    ),
]

settings = load_settings()
configure_logging(settings.observability.log_format, settings.observability.log_level)
app = create_app(settings, routes=demo_routes)
