"""IndexedRouter answers exactly as Starlette's Router does, and follows changes to its routes."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute
from starlette.websockets import WebSocket

from authkit.http.routing import IndexedRouter
from authkit.testing import make_request


def answer(name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return PlainTextResponse(f"{name} {sorted(request.path_params.items())}")

    return endpoint


async def websocket_endpoint(websocket: WebSocket) -> None:
    await websocket.close()


class EvenOnly(Route):
    """A route with matching of its own: the index must still ask it every time."""

    def matches(self, scope: Any) -> Any:
        match, child = super().matches(scope)
        return match, child


def routes() -> list[Any]:
    return [
        Route("/", answer("root")),
        Route("/a", answer("a-get"), methods=["GET"]),
        Route("/a", answer("a-post"), methods=["POST"]),
        Route("/b/", answer("b-slash")),
        Route("/users/{name}", answer("user")),
        Route("/users/me", answer("me-shadowed-by-the-parameter")),
        Route("/items/{id:int}", answer("item")),
        Route("/items/new", answer("new-item"), methods=["POST"]),
        EvenOnly("/custom", answer("custom")),
        Mount("/static", app=PlainTextResponse("static")),
        Mount("/a/sub", routes=[Route("/x", answer("sub-x"))]),
        Host("api.example.org", app=PlainTextResponse("host")),
        WebSocketRoute("/ws", websocket_endpoint),
        Route("/ws", answer("ws-over-http")),
    ]


async def call(app: Any, method: str, path: str, root_path: str, host: str) -> tuple[Any, ...]:
    messages: list[dict[str, Any]] = []
    scope = dict(make_request(method, root_path + path, headers=[("host", host)]).scope)
    scope["root_path"] = root_path

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)  # outside a Starlette app, 404 and 405 are answered
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return (start["status"], sorted(start["headers"]), body)


SEGMENTS = ["", "a", "b", "users", "me", "items", "1", "new", "custom", "static", "sub", "x", "ws"]


@settings(max_examples=400, deadline=None)
# The cases where the order of the routes decides, always tried: two partial matches (405,
# the first route's Allow header wins), a parameter route before a fixed one, a slash
# redirect, a mount's prefix, a host route, a root path.
@example(["a"], False, "DELETE", "", "localhost")
@example(["users", "me"], False, "GET", "", "localhost")
@example(["items", "new"], False, "GET", "/api", "localhost")
@example(["b"], False, "GET", "", "localhost")
@example(["a", "sub", "x"], True, "GET", "", "localhost")
@example(["ws"], False, "POST", "", "api.example.org")
@given(
    segments=st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=3),
    trailing_slash=st.booleans(),
    method=st.sampled_from(["GET", "POST", "DELETE", "HEAD"]),
    root_path=st.sampled_from(["", "/api"]),
    host=st.sampled_from(["localhost", "api.example.org"]),
)
def test_every_request_gets_what_starlettes_router_gives(
    segments: list[str], trailing_slash: bool, method: str, root_path: str, host: str
) -> None:
    path = "/" + "/".join(segments) + ("/" if trailing_slash and segments else "")
    starlette_router, indexed = Router(routes()), IndexedRouter(routes())
    expected = asyncio.run(call(starlette_router, method, path, root_path, host))
    assert asyncio.run(call(indexed, method, path, root_path, host)) == expected


def test_routes_added_or_replaced_after_the_first_request_are_found() -> None:
    router = IndexedRouter([Route("/a", answer("a"))])

    def get(path: str) -> Any:
        return asyncio.run(call(router, "GET", path, "", "localhost"))

    assert get("/a")[2] == b"a []"
    router.add_route("/b", answer("b"))
    router.routes.append(Route("/c", answer("c")))
    router.mount("/m", app=PlainTextResponse("mounted"))
    assert (get("/b")[2], get("/c")[2], get("/m/x")[2]) == (b"b []", b"c []", b"mounted")
    router.routes[0] = Route("/a", answer("a2"))
    assert get("/a")[2] == b"a2 []"
    del router.routes[0]
    assert get("/a")[0] == 404
    router.routes = [Route("/z", answer("z"))]
    assert get("/z")[2] == b"z []" and get("/b")[0] == 404
    router.routes += [Route("/y", answer("y"))]
    assert get("/y")[2] == b"y []"


def test_a_direct_routes_errors_reach_the_applications_handlers() -> None:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.testclient import TestClient

    from authkit.http.routing import DirectRoute

    async def refuse(request: Request) -> Response:
        raise HTTPException(418, "no tea")

    def sync_endpoint(request: Request) -> Response:
        return PlainTextResponse("from a thread")

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return PlainTextResponse(f"handled {exc.detail}", status_code=exc.status_code)

    app = Starlette(
        routes=[DirectRoute("/refuse", refuse), DirectRoute("/sync", sync_endpoint)],
        exception_handlers={HTTPException: on_http},
    )
    with TestClient(app) as client:
        refused = client.get("/refuse")
        assert (refused.status_code, refused.text) == (418, "handled no tea")
        assert client.get("/sync").text == "from a thread"
        assert client.post("/refuse").status_code == 405


def test_a_trailing_newline_is_not_the_path_without_it() -> None:
    router = IndexedRouter([Route("/a", answer("a"))])
    assert asyncio.run(call(router, "GET", "/a\n", "", "localhost"))[0] == 404
