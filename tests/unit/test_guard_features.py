"""Scopes (401 vs 403), the anonymous strategy, guards on HTTPEndpoint methods and whole
mounts, start-up checks of every guard, and strategy discovery from AUTHKIT_STRATEGIES
and the strategies/ folder. Through the whole app (TestClient, mongomock); installed
plugins through real entry points and a real process: tests/plugins/."""

from __future__ import annotations

import importlib.metadata
import textwrap
import time
from pathlib import Path
from typing import Any

import attrs
import mongomock
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from support.jwt import NODE_HEADER, bearer, hmac_jwt
from support.settings import make_settings

from authkit import create_app, guard
from authkit.core.errors import DuplicateStrategyError, RegistryError
from authkit.core.guard import GuardedApp
from authkit.http.openapi import describe
from authkit.settings.model import (
    CORSSettings,
    PluginSettings,
)
from authkit.tokens.issuer import TokenIssuer

SECRET = "guard-features-secret-0123456789abcdef"
ISSUER = TokenIssuer(SECRET, 600)


def token(**claims: Any) -> str:
    now = int(time.time())
    payload = {"username": "alice", "sub": "a" * 24, "iat": now, "exp": now + 60, **claims}
    return hmac_jwt(NODE_HEADER, payload, SECRET)


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {
            "authenticated": request.user.is_authenticated,
            "name": request.user.display_name,
            "scopes": list(request.auth.scopes),
        }
    )


@describe(
    operation_id="adminOnly",
    summary="Admins only",
    responses={200: {"description": "Who you are"}},
    parameters=[{"name": "verbose", "in": "query", "schema": {"type": "boolean"}}],
)
@guard("jwt", scopes=["admin"])
async def admin_only(request: Request) -> Response:
    return await whoami(request)


@describe(operation_id="anyone", summary="Anyone", responses={200: {"description": "Hi"}})
@guard("jwt", "anonymous")
async def anyone(request: Request) -> Response:
    return await whoami(request)


class Reports(HTTPEndpoint):
    @guard("jwt", scopes=["reports:read"])
    async def get(self, request: Request) -> Response:
        return await whoami(request)

    async def post(self, request: Request) -> Response:  # deliberately unguarded
        return JSONResponse({"open": True})


admin_app = Starlette(routes=[Route("/stats", whoami), Route("/users", whoami)])
ROUTES = [
    Route("/admin-only", admin_only),
    Route("/anyone", anyone),
    Route("/reports", Reports),
    Mount("/admin", app=GuardedApp(admin_app, "jwt", scopes=["admin"])),
]


@pytest.fixture
def client() -> Any:
    app = create_app(make_settings(SECRET), database=mongomock.MongoClient().db, routes=ROUTES)
    with TestClient(app) as client:
        yield client


def test_a_missing_scope_is_403_naming_it_and_no_credentials_is_401(client: Any) -> None:
    lacking = client.get("/admin-only", headers=bearer(token(scope="read write")))
    assert lacking.status_code == 403
    assert lacking.json() == {
        "message": "Missing scope: admin",
        "error": "Forbidden",
        "statusCode": 403,
    }
    assert 'error="insufficient_scope", scope="admin"' in lacking.headers["www-authenticate"]
    nobody = client.get("/admin-only")
    assert nobody.status_code == 401
    assert nobody.json() == {"message": "Unauthorized", "statusCode": 401}


@pytest.mark.parametrize("claims", [{"scope": "read admin"}, {"roles": ["admin", "ops"]}])
def test_scopes_come_from_the_scope_or_roles_claim(client: Any, claims: dict[str, Any]) -> None:
    response = client.get("/admin-only", headers=bearer(token(**claims)))
    assert response.status_code == 200
    assert "admin" in response.json()["scopes"]


def test_anonymous_ends_a_chain_for_routes_that_serve_everyone(client: Any) -> None:
    signed_in = client.get("/anyone", headers=bearer(token()))
    anonymous = client.get("/anyone")
    bad_token = client.get("/anyone", headers=bearer("not.a.jwt"))
    assert signed_in.json()["authenticated"] is True and signed_in.json()["name"] == "alice"
    assert anonymous.json() == {"authenticated": False, "name": "", "scopes": []}
    assert bad_token.json()["authenticated"] is False


def test_guards_on_httpendpoint_methods(client: Any) -> None:
    assert client.get("/reports").status_code == 401
    assert client.get("/reports", headers=bearer(token(scope="reports:read"))).status_code == 200
    assert client.get("/reports", headers=bearer(token())).status_code == 403
    assert client.post("/reports").json() == {"open": True}


def test_a_guarded_mount_protects_every_route_under_it(client: Any) -> None:
    for path in ("/admin/stats", "/admin/users"):
        assert client.get(path).status_code == 401
        assert client.get(path).headers["www-authenticate"].startswith("Bearer")
        assert client.get(path, headers=bearer(token())).status_code == 403
        allowed = client.get(path, headers=bearer(token(roles=["admin"])))
        assert allowed.status_code == 200 and allowed.json()["name"] == "alice"


def test_openapi_lists_the_scopes_and_the_403(client: Any) -> None:
    document = client.get("/openapi.json").json()
    me = document["paths"]["/auth/me"]["get"]
    assert me["security"] == [{"jwt": []}]
    assert "403" not in me["responses"]
    admin = document["paths"]["/admin-only"]["get"]
    assert admin["security"] == [{"jwt": ["admin"]}]
    assert "403" in admin["responses"]
    verbose = {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}
    assert admin["parameters"] == [verbose]


def test_openapi_marks_a_route_with_the_anonymous_strategy_as_open(client: Any) -> None:
    document = client.get("/openapi.json").json()
    # {} is OpenAPI's "no credential needed"; Swagger UI then lets the call through bare.
    assert document["paths"]["/anyone"]["get"]["security"] == [{"jwt": []}, {}]


@pytest.mark.parametrize(
    ("routes", "where"),
    [
        ([Route("/x", guard("jtw")(whoami))], "GET /x"),
        ([Mount("/m", app=GuardedApp(admin_app, "nope"))], "* /m"),
        (
            [Route("/r", type("R", (HTTPEndpoint,), {"get": guard("ghost")(Reports.post)}))],
            "GET /r",
        ),
    ],
)
def test_a_guard_naming_an_unknown_strategy_stops_start_up(routes: list[Any], where: str) -> None:
    with pytest.raises(RegistryError) as caught:
        create_app(make_settings(SECRET), database=mongomock.MongoClient().db, routes=routes)
    assert where in str(caught.value)
    assert "registered: anonymous, jwt, local" in str(caught.value)


# --- discovery --------------------------------------------------------------------------

HEADER_STRATEGY = """
from typing import ClassVar
from authkit.core.strategy import AuthenticatedUser, Fail, Success

class HeaderStrategy:
    name: ClassVar[str] = "{name}"

    @classmethod
    def from_context(cls, ctx):
        return cls()

    async def authenticate(self, request):
        who = request.headers.get("x-user")
        return Success(AuthenticatedUser(who, who)) if who else Fail('Header realm="test"')
"""


def write_package(root: Path, package: str, modules: dict[str, str]) -> None:
    folder = root / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))


@guard("header")
async def by_header(request: Request) -> Response:
    return await whoami(request)


def test_a_strategy_named_in_authkit_strategies_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(tmp_path, "pathpkg", {"auth": HEADER_STRATEGY.format(name="header")})
    monkeypatch.syspath_prepend(str(tmp_path))
    app = create_app(
        make_settings(SECRET, plugins=PluginSettings(strategies=("pathpkg.auth:HeaderStrategy",))),
        database=mongomock.MongoClient().db,
        routes=[Route("/h", by_header)],
    )
    with TestClient(app) as client:
        assert client.get("/h", headers={"X-User": "zoe"}).json()["name"] == "zoe"
        assert client.get("/h").headers["www-authenticate"] == 'Header realm="test"'


def test_cors_lets_browsers_send_a_plugins_credential_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = HEADER_STRATEGY.format(name="header").replace(
        "    async def authenticate",
        '    openapi_scheme: ClassVar[dict] = {"type": "apiKey", "in": "header", "name": "X-User"}'
        "\n\n    async def authenticate",
    )
    write_package(tmp_path, "corspkg", {"auth": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    app = create_app(
        attrs.evolve(
            make_settings(
                SECRET, plugins=PluginSettings(strategies=("corspkg.auth:HeaderStrategy",))
            ),
            cors=CORSSettings(origins=("https://app.example",)),
        ),
        database=mongomock.MongoClient().db,
        routes=[Route("/h", by_header, methods=["DELETE"])],
    )
    with TestClient(app) as client:
        preflight = client.options(
            "/h",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "DELETE",
                "Access-Control-Request-Headers": "x-user",
            },
        )
    assert preflight.status_code == 200, preflight.text
    assert "x-user" in preflight.headers["access-control-allow-headers"].lower()
    assert "DELETE" in preflight.headers["access-control-allow-methods"]


FEATURE_STRATEGY = (
    HEADER_STRATEGY
    + """
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from authkit.plugin import Feature

BUILT = []

class WithFeature(HeaderStrategy):
    name: ClassVar[str] = "featured"

    def feature(self):
        async def hello(request):
            return PlainTextResponse("from the plugin")

        async def build_indexes():
            BUILT.append("indexes")

        return Feature("featured", routes=[Route("/plugin/hello", hello)], indexes=[build_indexes])
"""
)


def test_a_strategys_feature_brings_routes_and_indexes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_package(tmp_path, "featpkg", {"auth": FEATURE_STRATEGY.format(name="header")})
    monkeypatch.syspath_prepend(str(tmp_path))
    app = create_app(
        make_settings(SECRET, plugins=PluginSettings(strategies=("featpkg.auth:WithFeature",))),
        database=mongomock.MongoClient().db,
    )
    import featpkg.auth  # the module the setting loaded

    with TestClient(app) as client:
        assert client.get("/plugin/hello").text == "from the plugin"
    assert featpkg.auth.BUILT == ["indexes"]


@pytest.mark.parametrize(
    ("plugins", "modules", "error", "names"),
    [
        ({"strategies": ("nocolon",)}, {}, RegistryError, "'nocolon' (from AUTHKIT_STRATEGIES)"),
        (
            {"strategies": ("missing.module:Thing",)},
            {},
            RegistryError,
            "'missing.module:Thing' (from AUTHKIT_STRATEGIES) failed to import",
        ),
        (
            {"strategies": ("badpkg.broken:Thing",)},
            {"broken": "raise RuntimeError('boom')"},
            RegistryError,
            "'badpkg.broken:Thing' (from AUTHKIT_STRATEGIES) failed to import: RuntimeError: boom",
        ),
        (
            {"strategies": ("clashpkg.clash:HeaderStrategy",)},
            {"clash": HEADER_STRATEGY.format(name="jwt")},
            DuplicateStrategyError,
            "'jwt' is already taken",
        ),
    ],
)
def test_discovery_failures_stop_start_up_naming_the_plugin(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    plugins: dict[str, Any],
    modules: dict[str, str],
    error: type[Exception],
    names: str,
) -> None:
    if modules:
        write_package(tmp_path, plugins["strategies"][0].split(".")[0], modules)
        monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(error) as caught:
        create_app(
            make_settings(SECRET, plugins=PluginSettings(**plugins)),
            database=mongomock.MongoClient().db,
        )
    assert names in str(caught.value)


def test_the_builtins_come_from_entry_points_once_each() -> None:
    app = create_app(make_settings(SECRET), database=mongomock.MongoClient().db)
    assert sorted(app.state.strategies) == ["anonymous", "jwt", "local"]
    declared = [
        ep.value
        for ep in importlib.metadata.entry_points(group="authkit.strategies")
        if ep.dist is not None and ep.dist.name == "authkit-asgi"
    ]
    assert sorted(declared) == [
        "authkit.strategies.anonymous:AnonymousStrategy",
        "authkit.strategies.jwt:JWTStrategy",
        "authkit.strategies.local:LocalStrategy",
    ]
