"""authkit's application leaves out Starlette's outermost error layer only where
RequestObserver already answers every exception in its place."""

from __future__ import annotations

from typing import Any

import mongomock
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from app import create_app
from authkit.observability import RequestObserver
from tests.unit.conftest import make_settings


class PassThrough:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def built_app() -> Any:
    return create_app(make_settings(), database=mongomock.MongoClient().db)


def test_as_built_request_observer_is_the_outermost_layer() -> None:
    assert isinstance(built_app().build_middleware_stack(), RequestObserver)


def test_a_middleware_added_outside_it_or_debug_mode_keeps_starlettes_error_layer() -> None:
    app = built_app()
    app.add_middleware(PassThrough)
    assert isinstance(app.build_middleware_stack(), ServerErrorMiddleware)
    app = built_app()
    app.debug = True
    assert isinstance(app.build_middleware_stack(), ServerErrorMiddleware)


def test_without_that_layer_an_endpoint_error_is_still_nests_500_and_the_app_goes_on() -> None:
    app = built_app()

    async def broken(request: Request) -> Response:
        raise RuntimeError("boom")

    app.router.routes.append(Route("/broken", broken))
    with TestClient(app) as client:  # raise_server_exceptions: nothing may escape the app
        response = client.get("/broken")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 500
    assert response.json() == {"statusCode": 500, "message": "Internal server error"}
    assert "x-request-id" in response.headers
