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

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from authkit import GuardedApp, guard, load_settings, serving
from authkit.plugin import JSON


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

app = serving(lambda: load_settings(os.environ, Path(".env")), routes=demo_routes)
