"""Every response says `nosniff`, and a redirect to the request's own origin is a path:
the `Host` header a client sends never comes back in a `Location`."""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import create_app
from authkit.http.settings import CORSSettings


def test_the_slash_redirect_does_not_echo_the_host_header(client: Any) -> None:
    answer = client.get("/auth/me/?x=1", headers={"host": "evil.example"}, follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/auth/me?x=1"


def test_the_relative_redirect_still_lands_on_the_route(client: Any) -> None:
    answer = client.get("/auth/me/")  # followed: httpx resolves the path against the request
    assert answer.status_code == 401  # /auth/me itself, unauthenticated
    assert [r.status_code for r in answer.history] == [307]


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("http://testserver/here?a=b#top", "/here?a=b#top"),  # own origin: a path
        ("http://testserver//elsewhere.example/x", "/elsewhere.example/x"),  # not //host
        ("https://testserver/here", "https://testserver/here"),  # another scheme
        ("https://login.example/start", "https://login.example/start"),  # another site
        ("/already/a/path", "/already/a/path"),
        ("http://[oops/", "http://[oops/"),  # no URL at all: as the app wrote it, no 500
    ],
)
def test_only_redirects_to_the_own_origin_become_paths(target: str, location: str) -> None:
    async def go(request: Request) -> RedirectResponse:
        return RedirectResponse(target, status_code=302)

    database = mongomock.MongoClient().db
    app = create_app(make_settings(), database=database, routes=[Route("/go", go)])
    with TestClient(app) as client:
        answer = client.get("/go", follow_redirects=False)
    assert answer.headers["location"] == location


@pytest.mark.parametrize("path", ["/healthz", "/nothing-here<script>", "/auth/me", "/docs"])
def test_every_answer_says_nosniff(client: Any, path: str) -> None:
    answer = client.get(path)
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_a_404_that_quotes_the_path_is_json_and_says_so(client: Any) -> None:
    answer = client.get("/<img src=x onerror=alert(1)>")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("headers", [None, (), ((b"content-type", b"text/plain"),)])
def test_a_raw_asgi_app_that_omits_headers_or_gives_a_tuple_still_answers(
    headers: Any,
) -> None:
    async def raw(scope: Any, receive: Any, send: Any) -> None:
        start: dict[str, Any] = {"type": "http.response.start", "status": 200}
        if headers is not None:
            start["headers"] = headers
        await send(start)
        await send({"type": "http.response.body", "body": b"ok"})

    database = mongomock.MongoClient().db
    app = create_app(make_settings(), database=database, routes=[Mount("/raw", raw)])
    with TestClient(app) as client:
        answer = client.get("/raw/")
    assert (answer.status_code, answer.text) == (200, "ok")
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_cors_answers_and_500s_say_nosniff_too() -> None:
    async def broken(request: Request) -> RedirectResponse:
        raise RuntimeError("a bug")

    settings = make_settings(cors=CORSSettings(origins=("https://app.example",)))
    app = create_app(settings, database=mongomock.MongoClient().db, routes=[Route("/b", broken)])
    origin = {"Origin": "https://app.example"}
    with TestClient(app, raise_server_exceptions=False) as client:
        answers = {
            "preflight": client.options(
                "/auth/signin", headers={**origin, "Access-Control-Request-Method": "POST"}
            ),
            "refused preflight": client.options(
                "/auth/signin", headers={**origin, "Access-Control-Request-Method": "TRACE"}
            ),
            "simple": client.get("/healthz", headers=origin),
            "500": client.get("/b", headers=origin),
        }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {"preflight": 200, "refused preflight": 400, "simple": 200, "500": 500}
    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
    assert answers["500"].headers["access-control-allow-origin"] == "https://app.example"
