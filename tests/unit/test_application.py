"""authkit's application leaves out Starlette's outermost error layer only where
RequestObserver already answers every exception in its place, and maps exceptions to
handlers exactly as Starlette's ExceptionMiddleware does."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import anyio
import mongomock
import pytest
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authkit import create_app
from authkit.http.stack import LeanExceptionMiddleware
from authkit.ops.observer import RequestObserver
from authkit.settings.model import Settings


class PassThrough:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@pytest.fixture
def built_app(settings: Settings) -> Callable[[], Any]:
    """authkit's application as create_app builds it, a new one per call."""
    return lambda: create_app(settings, database=mongomock.MongoClient().db)


def test_as_built_request_observer_is_the_outermost_layer(built_app: Callable[[], Any]) -> None:
    assert isinstance(built_app().build_middleware_stack(), RequestObserver)


def test_a_middleware_added_outside_it_or_debug_mode_keeps_starlettes_error_layer(
    built_app: Callable[[], Any],
) -> None:
    app = built_app()
    app.add_middleware(PassThrough)
    assert isinstance(app.build_middleware_stack(), ServerErrorMiddleware)
    app = built_app()
    app.debug = True
    assert isinstance(app.build_middleware_stack(), ServerErrorMiddleware)


def test_without_that_layer_an_endpoint_error_is_still_nests_500_and_the_app_goes_on(
    built_app: Callable[[], Any],
) -> None:
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


class Teapot(HTTPException):
    pass


class Odd(ValueError):
    pass


async def async_handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"async {type(exc).__name__}", status_code=499)


def sync_handler(request: Request, exc: Exception) -> Response:
    return PlainTextResponse(f"sync {type(exc).__name__}", status_code=498)


async def no_response(request: Request, exc: Exception) -> None:
    return None


class CallableHandler:
    async def __call__(self, request: Request, exc: Exception) -> Response:
        return PlainTextResponse("callable", status_code=497)


HANDLER_SETS: dict[str, dict[Any, Any]] = {
    "none": {},
    "by status": {418: async_handler, 404: sync_handler},
    "by class": {ValueError: sync_handler, HTTPException: async_handler},
    "partial and object": {
        ValueError: functools.partial(async_handler),
        HTTPException: CallableHandler(),
    },
    "nothing to send": {ValueError: no_response},
}
RAISES: dict[str, Callable[[], Exception] | None] = {
    "nothing": None,
    "HTTPException 418": lambda: HTTPException(418),
    "HTTPException 404 with headers": lambda: HTTPException(404, headers={"X-A": "1"}),
    "HTTPException 204": lambda: HTTPException(204),
    "subclass of HTTPException": lambda: Teapot(418),
    "ValueError subclass": lambda: Odd("no"),
    "KeyError": lambda: KeyError("k"),
}


def run_layer(
    layer_class: type[ExceptionMiddleware],
    handlers: dict[Any, Any],
    raise_: Any,
    *,
    after_start: bool,
) -> tuple[list[Message], str | None]:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        if raise_ is not None:
            raise raise_()
        await send({"type": "http.response.body", "body": b"ok"})

    layer = layer_class(endpoint, handlers=handlers)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    try:
        anyio.run(layer, scope, receive, send)
    except Exception as exc:  # what escapes the layer is part of its behaviour
        return sent, f"{type(exc).__name__}: {exc}"
    return sent, None


@pytest.mark.parametrize("after_start", [False, True])
@pytest.mark.parametrize("raises", list(RAISES))
@pytest.mark.parametrize("handlers", list(HANDLER_SETS))
def test_the_lean_exception_layer_does_what_starlettes_does(
    handlers: str, raises: str, after_start: bool
) -> None:
    ours = run_layer(
        LeanExceptionMiddleware, HANDLER_SETS[handlers], RAISES[raises], after_start=after_start
    )
    theirs = run_layer(
        ExceptionMiddleware, HANDLER_SETS[handlers], RAISES[raises], after_start=after_start
    )
    assert ours == theirs


def test_the_built_app_uses_the_lean_layer_with_the_apps_handlers(
    built_app: Callable[[], Any],
) -> None:
    app = built_app()
    app.add_exception_handler(Odd, async_handler)

    async def odd(request: Request) -> Response:
        raise Odd("x")

    app.router.routes.append(Route("/odd", odd))
    layers = []
    layer: Any = app.build_middleware_stack()
    while layer is not None:
        layers.append(type(layer))
        layer = getattr(layer, "app", None)
    assert LeanExceptionMiddleware in layers and ExceptionMiddleware not in layers
    with TestClient(app) as client:
        assert (client.get("/odd").status_code, client.get("/odd").text) == (499, "async Odd")
