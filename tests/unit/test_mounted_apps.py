"""Applications mounted in create_app render authkit's errors as authkit does.

A mounted Starlette app answers exceptions with its own handlers; without authkit's, a
guard's 401 raised inside it became that app's plain-text 500. create_app gives every
mounted Starlette app (FastAPI's included: tests/with_fastapi) the handler for authkit's
HTTPError, and leaves alone an app that has its own.
"""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import GuardedApp, HTTPError, create_app, guard

SECRET = "mounted-apps-secret-0123456789abcdef0123"


@guard("jwt")
async def hello(request: Request) -> Response:
    return JSONResponse({"hello": request.user.display_name})


def build(*routes: Any) -> TestClient:
    return TestClient(
        create_app(make_settings(SECRET), database=mongomock.MongoClient().db, routes=routes)
    )


@pytest.mark.parametrize("wrap", [lambda app: app, lambda app: GuardedApp(app, "anonymous")])
def test_a_guard_inside_a_mounted_app_answers_authkits_401(wrap: Any) -> None:
    inner = Starlette(routes=[Route("/hello", hello)])
    deeper = Starlette(routes=[Mount("/deeper", app=Starlette(routes=[Route("/hello", hello)]))])
    with build(Mount("/sub", app=wrap(inner)), Mount("/nested", app=deeper)) as client:
        for path in ("/sub/hello", "/nested/deeper/hello"):
            answer = client.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["content-type"] == "application/json; charset=utf-8"
            assert answer.headers["www-authenticate"] == 'Bearer realm="authkit"'
            assert answer.json() == {"message": "Unauthorized", "statusCode": 401}


def test_a_mounted_app_with_its_own_handler_keeps_it() -> None:
    async def own(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("mine", status_code=418)

    inner = Starlette(routes=[Route("/hello", hello)], exception_handlers={HTTPError: own})
    with build(Mount("/sub", app=inner)) as client:
        assert client.get("/sub/hello").status_code == 418
