"""authkit.fastapi: authkit's guards as a FastAPI dependency, on mongomock.

A FastAPI app mounted in `create_app` (the way the README shows) and one served on its own
with `install()`. Its guards name `jwt` and `headerkey`, a strategy with an API-key header
declared through a (fake) `authkit.strategies` entry point, as a plugin's would be.

Skipped where FastAPI is not installed: authkit does not depend on it (tox's `fastapi` env
runs these).
"""

from __future__ import annotations

import importlib.metadata
import warnings
from collections.abc import Callable, Iterator
from typing import Annotated, Any, ClassVar

import attrs
import mongomock
import pytest
from support.jwt import bearer
from support.settings import make_settings

pytest.importorskip("fastapi.applications")

from fastapi import Depends, FastAPI, Security
from starlette.requests import Request
from starlette.routing import Mount

import authkit.core.registry
import authkit.fastapi
from authkit import (
    AuthenticatedUser,
    Fail,
    Forbidden,
    Outcome,
    RegistryError,
    StrategyContext,
    Success,
    create_app,
    guard,
)
from authkit.fastapi import Guard, install
from authkit.plugin import TokenIssuer

with warnings.catch_warnings():
    # starlette.testclient warns at import time when it runs on httpx rather than httpx2.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

SECRET = "fastapi-test-secret-0123456789abcdef012345"  # 42 bytes: no short-secret warning
KEY = "k-123"
JSON_TYPE = "application/json; charset=utf-8"


@attrs.frozen
class HeaderKeyStrategy:
    """An API key in `X-Test-Key`, as authkit-apikey's strategy looks from outside."""

    name: ClassVar[str] = "headerkey"
    openapi_scheme: ClassVar[dict[str, str]] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Test-Key",
    }

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> HeaderKeyStrategy:
        return cls()

    async def authenticate(self, request: Request) -> Outcome:
        if request.headers.get("x-test-key") == KEY:
            return Success(AuthenticatedUser("key-owner", "robot"), ("admin",))
        return Fail('ApiKey realm="authkit", header="X-Test-Key"')


@attrs.frozen
class _EntryPoint:
    name: str
    value: str
    target: Any
    group: str = authkit.core.registry.ENTRY_POINT_GROUP
    dist: Any = None

    def load(self) -> Any:
        return self.target


@pytest.fixture(autouse=True)
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """authkit's own strategies plus `headerkey`; plugins installed beside are left out."""
    own = [
        ep
        for ep in importlib.metadata.entry_points(group=authkit.core.registry.ENTRY_POINT_GROUP)
        if ep.dist is not None and ep.dist.name == "authkit-asgi"
    ]
    found = [*own, _EntryPoint("headerkey", f"{__name__}:HeaderKeyStrategy", HeaderKeyStrategy)]

    def fake(*, group: str) -> list[Any]:
        return found if group == authkit.core.registry.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(authkit.core.registry, "entry_points", fake)
    monkeypatch.setattr(authkit.fastapi, "entry_points", fake)
    authkit.fastapi._scheme_of.cache_clear()
    yield
    authkit.fastapi._scheme_of.cache_clear()


def token(**claims: Any) -> str:
    return TokenIssuer(SECRET, 60).issue(user_id="u-1", username="alice", claims=claims)


def build_api() -> FastAPI:
    api = FastAPI(title="reports")

    @api.get("/me")
    async def me(
        request: Request, user: Annotated[AuthenticatedUser, Depends(Guard("jwt", "headerkey"))]
    ) -> dict[str, Any]:
        return {
            "id": user.identity,
            "username": user.display_name,
            "request_user": request.user.display_name,
            "scopes": list(request.auth.scopes),
        }

    @api.get("/admin", dependencies=[Security(Guard("jwt", "headerkey", scopes=["admin"]))])
    async def admin() -> dict[str, bool]:
        return {"admin": True}

    @api.get("/items/{number}")
    async def item(
        number: int, user: Annotated[AuthenticatedUser, Depends(Guard("jwt"))]
    ) -> dict[str, int]:
        return {"number": number}

    @api.get("/forbidden", dependencies=[Depends(Guard("jwt"))])
    async def forbidden() -> None:
        raise Forbidden("Not yours")

    @api.get("/open")
    async def open_route() -> dict[str, bool]:
        return {"open": True}

    return api


@pytest.fixture
def client_for() -> Iterator[Callable[[Any], TestClient]]:
    opened: list[TestClient] = []

    def build(app: Any) -> TestClient:
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return client

    yield build
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_for: Callable[[Any], TestClient]) -> TestClient:
    """The FastAPI app mounted at /api in authkit's application."""
    db = mongomock.MongoClient().db
    return client_for(
        create_app(make_settings(SECRET), database=db, routes=[Mount("/api", app=build_api())])
    )


@pytest.fixture
def standalone(client_for: Callable[[Any], TestClient]) -> TestClient:
    """The FastAPI app served on its own, with the registry of an authkit app."""
    service = create_app(make_settings(SECRET), database=mongomock.MongoClient().db)
    api = build_api()
    install(api, service)
    return client_for(api)


def test_a_signed_in_caller_gets_the_principal(client: TestClient) -> None:
    # A real sign-up and sign-in through authkit's own routes, then the FastAPI route.
    credentials = {"username": "alice", "password": "Passw0rd!x"}
    signup = client.post("/auth/signup", json=credentials)
    assert signup.status_code == 201, signup.text
    signin = client.post("/auth/signin", json=credentials)
    assert signin.status_code == 201, signin.text
    answer = client.get("/api/me", headers=bearer(signin.json()["accessToken"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["username"] == body["request_user"] == "alice"
    assert body["id"] and body["scopes"] == []


def test_the_first_strategy_that_succeeds_wins(client: TestClient) -> None:
    answer = client.get("/api/me", headers={"X-Test-Key": KEY})
    assert answer.status_code == 200
    assert answer.json() == {
        "id": "key-owner",
        "username": "robot",
        "request_user": "robot",
        "scopes": ["admin"],
    }


def test_no_credential_is_a_401_with_every_challenge(client: TestClient) -> None:
    answer = client.get("/api/me")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        'Bearer realm="authkit", ApiKey realm="authkit", header="X-Test-Key"'
    )
    assert answer.headers["content-type"] == JSON_TYPE
    assert answer.json() == {"message": "Unauthorized", "statusCode": 401}


@pytest.mark.parametrize("value", ["not-a-jwt", token()[:-4] + "AAAA"])
def test_a_bad_token_is_a_401(client: TestClient, value: str) -> None:
    answer = client.get("/api/items/3", headers=bearer(value))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == (
        'Bearer realm="authkit", error="invalid_token", '
        'error_description="The access token is invalid"'
    )
    assert answer.json() == {"message": "Unauthorized", "statusCode": 401}


def test_a_missing_scope_is_a_403(client: TestClient) -> None:
    answer = client.get("/api/admin", headers=bearer(token()))
    assert answer.status_code == 403
    assert answer.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="admin"'
    assert answer.json() == {
        "message": "Missing scope: admin",
        "error": "Forbidden",
        "statusCode": 403,
    }


def test_the_scope_from_the_token_or_the_key_admits(client: TestClient) -> None:
    admitted = client.get("/api/admin", headers=bearer(token(roles=["admin"])))
    assert admitted.json() == {"admin": True}
    assert client.get("/api/admin", headers={"X-Test-Key": KEY}).status_code == 200


def test_authkit_errors_raised_in_an_operation_render_as_authkits(client: TestClient) -> None:
    answer = client.get("/api/forbidden", headers=bearer(token()))
    assert answer.status_code == 403
    assert answer.headers["content-type"] == JSON_TYPE
    assert answer.json() == {"message": "Not yours", "error": "Forbidden", "statusCode": 403}


def test_fastapis_own_errors_stay_fastapis(client: TestClient) -> None:
    answer = client.get("/api/items/three", headers=bearer(token()))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["path", "number"]
    # Authentication comes first: a stranger learns nothing about the parameters.
    assert client.get("/api/items/three").status_code == 401


def test_unguarded_operations_stay_open(client: TestClient) -> None:
    assert client.get("/api/open").json() == {"open": True}


def test_the_openapi_document_shows_the_schemes(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "headerkey": {"type": "apiKey", "in": "header", "name": "X-Test-Key"},
    }
    paths = document["paths"]
    # Alternatives, in the chain's order, as authkit's own /openapi.json lists them.
    assert paths["/me"]["get"]["security"] == [{"jwt": []}, {"headerkey": []}]
    assert paths["/admin"]["get"]["security"] == [{"jwt": ["admin"]}, {"headerkey": ["admin"]}]
    assert paths["/items/{number}"]["get"]["security"] == [{"jwt": []}]
    assert "security" not in paths["/open"]["get"]


def test_a_standalone_app_with_install_answers_alike(standalone: TestClient) -> None:
    assert standalone.get("/me", headers=bearer(token())).json()["username"] == "alice"
    refused = standalone.get("/me")
    assert refused.status_code == 401
    assert refused.json() == {"message": "Unauthorized", "statusCode": 401}
    assert standalone.get("/admin", headers=bearer(token())).status_code == 403
    assert "headerkey" in standalone.get("/openapi.json").json()["components"]["securitySchemes"]


def _api_with(dependency: Any = None, *, endpoint_guard: bool = False) -> FastAPI:
    api = FastAPI()

    async def endpoint(request: Request) -> dict[str, bool]:
        return {"ok": True}

    if endpoint_guard:
        endpoint = guard("jwt")(endpoint)  # type: ignore[arg-type]
    api.get("/x", dependencies=[Depends(dependency)] if dependency else [])(endpoint)
    return api


def test_an_unknown_strategy_name_stops_create_app() -> None:
    api = _api_with(Guard("jwt", "jtw"))
    with pytest.raises(RegistryError, match=r"GET /api/x names strategy 'jtw'"):
        create_app(
            make_settings(SECRET),
            database=mongomock.MongoClient().db,
            routes=[Mount("/api", app=api)],
        )


def test_an_unknown_strategy_name_stops_a_standalone_start() -> None:
    service = create_app(make_settings(SECRET), database=mongomock.MongoClient().db)
    api = FastAPI()
    install(api, service)
    api.get("/late", dependencies=[Depends(Guard("nope"))])(lambda: None)
    with pytest.raises(RegistryError, match="'nope'"), TestClient(api):
        pass


def test_guard_on_a_path_operation_stops_start_up_pointing_to_the_dependency() -> None:
    api = _api_with(endpoint_guard=True)
    with pytest.raises(RegistryError, match=r"Depends\(authkit\.fastapi\.Guard"):
        create_app(
            make_settings(SECRET),
            database=mongomock.MongoClient().db,
            routes=[Mount("/api", app=api)],
        )
    service = create_app(make_settings(SECRET), database=mongomock.MongoClient().db)
    with pytest.raises(RegistryError, match=r"Depends\(authkit\.fastapi\.Guard"):
        install(_api_with(endpoint_guard=True), service)


def test_a_guard_needs_names() -> None:
    with pytest.raises(TypeError, match="one or more strategy names"):
        Guard()
    assert repr(Guard("jwt", scopes=["a"])) == "Guard('jwt', scopes=['a'])"


def test_without_a_registry_the_error_says_what_to_do() -> None:
    api = _api_with(Guard("jwt"))
    with (
        TestClient(api, raise_server_exceptions=True) as client,
        pytest.raises(RuntimeError, match="install"),
    ):
        client.get("/x")


def test_guard_reached_past_the_checks_still_names_the_dependency() -> None:
    # A registry put in place by hand skips every start-up check; the request then fails
    # with the same message, in the log, rather than with "unexpected keyword 'request'".
    api = _api_with(endpoint_guard=True)
    api.state.strategies = create_app(
        make_settings(SECRET), database=mongomock.MongoClient().db
    ).state.strategies
    with TestClient(api) as client, pytest.raises(TypeError, match=r"authkit\.fastapi\.Guard"):
        client.get("/x")
