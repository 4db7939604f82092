"""authkit.guard (the Passport-style strategy chain, @guard on Starlette endpoints) and
authkit.registry.StrategyRegistry (names, errors, loading `authkit.strategies` entry points).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import mongomock
import pytest
from authkit.strategies.jwt import JWTStrategy
from authkit.strategies.local import LocalStrategy
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import authkit.core.registry
from authkit import ConfigError, create_app, load_settings
from authkit.core.errors import (
    AuthenticationFailed,
    DuplicateStrategyError,
    RegistryError,
    UnknownStrategyError,
)
from authkit.core.guard import Guard, authenticate, guard, guarded_by
from authkit.core.registry import ENTRY_POINT_GROUP, StrategyRegistry
from authkit.core.strategy import (
    AuthenticatedUser,
    Fail,
    Outcome,
    Strategy,
    StrategyContext,
    Success,
)
from authkit.http.responses import exception_handlers
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore

RequestFactory = Callable[..., Request]


class Fake:
    """A strategy that answers a fixed outcome and counts its calls."""

    def __init__(self, name: str, outcome: Outcome) -> None:
        self.name = name  # type: ignore[misc]
        self.outcome = outcome
        self.calls = 0

    async def authenticate(self, request: Request) -> Outcome:
        self.calls += 1
        return self.outcome

    def __repr__(self) -> str:
        return f"Fake({self.name!r})"


def registry_of(*strategies: Any) -> StrategyRegistry:
    registry = StrategyRegistry()
    for strategy in strategies:
        registry.use(strategy)
    return registry


ALICE = AuthenticatedUser("id-1", "alice")
BOB = AuthenticatedUser("id-2", "bob")


# ---------------------------------------------------------------- the chain


@pytest.mark.anyio
async def test_first_success_wins_and_later_strategies_are_not_called(
    make_request: RequestFactory,
) -> None:
    failing = Fake("a", Fail('A realm="x"'))
    first = Fake("b", Success(ALICE, ("read",)))
    second = Fake("c", Success(BOB))
    registry = registry_of(failing, first, second)
    outcome = await authenticate(make_request(), registry, ["a", "b", "c"])
    assert outcome == Success(ALICE, ("read",))
    assert (failing.calls, first.calls, second.calls) == (1, 1, 0)


@pytest.mark.anyio
async def test_strategies_run_in_the_order_named(make_request: RequestFactory) -> None:
    a, b = Fake("a", Success(ALICE)), Fake("b", Success(BOB))
    registry = registry_of(a, b)
    assert (await authenticate(make_request(), registry, ["b", "a"])).user == BOB
    assert a.calls == 0


@pytest.mark.anyio
async def test_all_fail_gives_every_challenge_and_the_first_message(
    make_request: RequestFactory,
) -> None:
    registry = registry_of(
        Fake("a", Fail('A realm="x"')),
        Fake("b", Fail(None, "first message")),
        Fake("c", Fail('C realm="y"', "second message")),
    )
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(make_request(), registry, ["a", "b", "c"])
    assert caught.value.message == "first message"
    assert caught.value.challenges == ('A realm="x"', 'C realm="y"')
    assert caught.value.headers == {"WWW-Authenticate": 'A realm="x", C realm="y"'}
    assert caught.value.status_code == 401


@pytest.mark.anyio
async def test_all_fail_without_messages_is_bare_unauthorized(
    make_request: RequestFactory,
) -> None:
    registry = registry_of(Fake("a", Fail()), Fake("b", Fail()))
    with pytest.raises(AuthenticationFailed) as caught:
        await authenticate(make_request(), registry, ["a", "b"])
    assert caught.value.message == "Unauthorized"
    assert caught.value.headers == {}


@pytest.mark.anyio
async def test_a_strategy_returning_something_else_is_a_type_error(
    make_request: RequestFactory,
) -> None:
    registry = registry_of(Fake("a", None))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'a' returned None"):
        await authenticate(make_request(), registry, ["a"])


@pytest.mark.anyio
async def test_unknown_strategy_in_the_chain(make_request: RequestFactory) -> None:
    with pytest.raises(UnknownStrategyError):
        await authenticate(make_request(), registry_of(Fake("a", Fail())), ["a", "zzz"])


# ---------------------------------------------------------------- @guard on an endpoint


def guarded_app(registry: StrategyRegistry, *names: str) -> Starlette:
    @guard(*names)
    async def whoami(request: Request) -> Response:
        user = request.user
        return JSONResponse(
            {
                "id": user.identity,
                "name": user.display_name,
                "authenticated": request.user.is_authenticated,
                "scopes": request.auth.scopes,
            }
        )

    @guard(*names)
    @requires("admin")
    async def admin(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[Route("/whoami", whoami), Route("/admin", admin)],
        exception_handlers=dict(exception_handlers),
    )
    app.state.strategies = registry
    return app


def test_guard_sets_request_user_and_auth(client_for: Callable[[Starlette], Any]) -> None:
    registry = registry_of(Fake("a", Fail()), Fake("b", Success(ALICE, ("read", "admin"))))
    response = client_for(guarded_app(registry, "a", "b")).get("/whoami")
    assert response.status_code == 200
    assert response.json() == {
        "id": "id-1",
        "name": "alice",
        "authenticated": True,
        "scopes": ["read", "admin"],
    }


def test_starlette_requires_sees_the_scopes(client_for: Callable[[Starlette], Any]) -> None:
    with_admin = client_for(guarded_app(registry_of(Fake("a", Success(ALICE, ("admin",)))), "a"))
    assert with_admin.get("/admin").json() == {"ok": True}
    without = client_for(guarded_app(registry_of(Fake("a", Success(ALICE, ("read",)))), "a"))
    response = without.get("/admin")
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden", "statusCode": 403}


def test_guard_failure_is_a_401_with_every_challenge(
    client_for: Callable[[Starlette], Any],
) -> None:
    registry = registry_of(Fake("a", Fail('A realm="x"', "Nope")), Fake("b", Fail('B realm="y"')))
    response = client_for(guarded_app(registry, "a", "b")).get("/whoami")
    assert response.status_code == 401
    assert response.json() == {"message": "Nope", "error": "Unauthorized", "statusCode": 401}
    assert response.headers["www-authenticate"] == 'A realm="x", B realm="y"'


def test_guard_records_its_names_and_keeps_the_endpoint_name() -> None:
    @guard("jwt", "local")
    async def endpoint(request: Request) -> Response:
        return Response()

    assert guarded_by(endpoint) == Guard(("jwt", "local"))
    assert endpoint.__name__ == "endpoint"
    assert guarded_by(lambda request: None) is None


@pytest.mark.parametrize("names", [(), ("",), ("jwt", "")])
def test_guard_needs_strategy_names(names: tuple[str, ...]) -> None:
    with pytest.raises(TypeError, match="one or more strategy names"):
        guard(*names)


# ---------------------------------------------------------------- the registry


def test_registry_use_get_contains_iter() -> None:
    a, b = Fake("a", Fail()), Fake("b", Fail())
    registry = registry_of(a, b)
    assert registry.get("a") is a
    assert "b" in registry
    assert "c" not in registry
    assert list(registry) == ["a", "b"]


def test_duplicate_name_error_names_both_strategies() -> None:
    registry = registry_of(Fake("jwt", Fail()))
    with pytest.raises(DuplicateStrategyError) as caught:
        registry.use(Fake("jwt", Success(ALICE)))
    message = str(caught.value)
    assert "'jwt'" in message
    assert message.count("Fake('jwt')") == 2
    assert isinstance(caught.value, RegistryError)


def test_unknown_name_error_lists_the_known_names() -> None:
    registry = registry_of(Fake("local", Fail()), Fake("jwt", Fail()))
    with pytest.raises(UnknownStrategyError) as caught:
        registry.get("jtw")
    assert str(caught.value) == "no strategy is registered as 'jtw' (registered: jwt, local)"
    assert caught.value.name == "jtw"


def test_unknown_name_in_an_empty_registry() -> None:
    with pytest.raises(UnknownStrategyError, match=r"registered: none"):
        StrategyRegistry().get("jwt")


@pytest.mark.parametrize("name", [None, "", 42])
def test_a_strategy_needs_a_name(name: object) -> None:
    class Nameless:
        async def authenticate(self, request: Request) -> Outcome:
            return Fail()

    strategy = Nameless()
    if name is not None:
        strategy.name = name  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="has no `name`"):
        StrategyRegistry().use(strategy)  # type: ignore[arg-type]


# ---------------------------------------------------------------- entry points


@pytest.fixture
def ctx(store: MongoUserStore, hasher: PasswordHasher, issuer: TokenIssuer) -> StrategyContext:
    service = AuthService(store, hasher)
    return StrategyContext(
        users=store, passwords=hasher, tokens=issuer, service=service, max_body_bytes=2048
    )


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a plugin module with the given source; returns its importable name."""
    written: list[str] = []

    def write(source: str) -> str:
        module = f"authkit_test_plugin_{uuid.uuid4().hex}"
        (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
        written.append(module)
        return module

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for module in written:
        sys.modules.pop(module, None)


def fake_entry_points(
    monkeypatch: pytest.MonkeyPatch, *points: tuple[str, str]
) -> list[dict[str, Any]]:
    """Make authkit.registry see exactly `points` ((name, "module:attr")); records each call."""
    calls: list[dict[str, Any]] = []

    def entry_points(**kwargs: Any) -> list[EntryPoint]:
        calls.append(kwargs)
        return [EntryPoint(name, value, kwargs["group"]) for name, value in points]

    monkeypatch.setattr(authkit.core.registry, "entry_points", entry_points)
    return calls


PLUGIN_SOURCE = """
from authkit.core.strategy import Fail

class HeaderStrategy:
    name = "header"

    def __init__(self, ctx):
        self.ctx = ctx

    @classmethod
    def from_context(cls, ctx):
        return cls(ctx)

    async def authenticate(self, request):
        return Fail('Header realm="x"')

class Prebuilt:
    name = "prebuilt"

    async def authenticate(self, request):
        return Fail()

INSTANCE = Prebuilt()
"""


def test_entry_points_are_loaded_with_the_context(
    monkeypatch: pytest.MonkeyPatch, plugin: Callable[[str], str], ctx: StrategyContext
) -> None:
    module = plugin(PLUGIN_SOURCE)
    calls = fake_entry_points(
        monkeypatch, ("header", f"{module}:HeaderStrategy"), ("prebuilt", f"{module}:INSTANCE")
    )
    registry = StrategyRegistry()
    assert registry.load_entry_points(ctx) == 2
    assert calls == [{"group": ENTRY_POINT_GROUP}]
    assert registry.get("header").ctx is ctx  # type: ignore[attr-defined]
    assert type(registry.get("prebuilt")).__name__ == "Prebuilt"


def test_plugin_that_fails_to_import_names_plugin_and_entry_point(
    monkeypatch: pytest.MonkeyPatch, plugin: Callable[[str], str], ctx: StrategyContext
) -> None:
    module = plugin("raise RuntimeError('plugin exploded')\n")
    fake_entry_points(monkeypatch, ("boom", f"{module}:Strategy"))
    with pytest.raises(RegistryError) as caught:
        StrategyRegistry().load_entry_points(ctx)
    message = str(caught.value)
    assert "'boom'" in message
    assert f"{module}:Strategy" in message
    assert "RuntimeError: plugin exploded" in message


def test_plugin_whose_module_is_missing(
    monkeypatch: pytest.MonkeyPatch, ctx: StrategyContext
) -> None:
    fake_entry_points(monkeypatch, ("ghost", "authkit_no_such_module_xyz:Strategy"))
    with pytest.raises(RegistryError, match=r"'ghost' \(authkit_no_such_module_xyz:Strategy\)"):
        StrategyRegistry().load_entry_points(ctx)


def test_plugin_whose_attribute_is_missing(
    monkeypatch: pytest.MonkeyPatch, plugin: Callable[[str], str], ctx: StrategyContext
) -> None:
    module = plugin(PLUGIN_SOURCE)
    fake_entry_points(monkeypatch, ("header", f"{module}:NoSuchClass"))
    with pytest.raises(RegistryError, match="'header'"):
        StrategyRegistry().load_entry_points(ctx)


def test_plugin_that_fails_to_build_names_plugin_and_entry_point(
    monkeypatch: pytest.MonkeyPatch, plugin: Callable[[str], str], ctx: StrategyContext
) -> None:
    # The operator sees a start-up error that says which plugin broke, not a bare traceback.
    module = plugin(
        "class Broken:\n"
        "    name = 'broken'\n"
        "    @classmethod\n"
        "    def from_context(cls, ctx):\n"
        "        raise KeyError('needs a setting')\n"
    )
    fake_entry_points(monkeypatch, ("broken", f"{module}:Broken"))
    with pytest.raises(RegistryError) as caught:
        StrategyRegistry().load_entry_points(ctx)
    assert "'broken'" in str(caught.value)
    assert f"{module}:Broken" in str(caught.value)


def test_entry_point_name_must_match_the_strategy_name(
    monkeypatch: pytest.MonkeyPatch, plugin: Callable[[str], str], ctx: StrategyContext
) -> None:
    module = plugin(PLUGIN_SOURCE)
    fake_entry_points(monkeypatch, ("hdr", f"{module}:HeaderStrategy"))
    with pytest.raises(RegistryError) as caught:
        StrategyRegistry().load_entry_points(ctx)
    message = str(caught.value)
    assert "'hdr'" in message
    assert "'header'" in message
    assert "must match" in message


def test_two_plugins_with_one_name_is_a_duplicate(
    monkeypatch: pytest.MonkeyPatch, plugin: Callable[[str], str], ctx: StrategyContext
) -> None:
    first, second = plugin(PLUGIN_SOURCE), plugin(PLUGIN_SOURCE)
    fake_entry_points(
        monkeypatch, ("header", f"{first}:HeaderStrategy"), ("header", f"{second}:HeaderStrategy")
    )
    with pytest.raises(DuplicateStrategyError, match="'header'"):
        StrategyRegistry().load_entry_points(ctx)


def test_no_entry_points_loads_nothing(
    monkeypatch: pytest.MonkeyPatch, ctx: StrategyContext
) -> None:
    fake_entry_points(monkeypatch)
    registry = StrategyRegistry()
    assert registry.load_entry_points(ctx) == 0
    assert list(registry) == []


def test_the_installed_local_and_jwt_entry_points_are_found(ctx: StrategyContext) -> None:
    registry = StrategyRegistry()
    assert registry.load_entry_points(ctx) >= 2
    local, jwt = registry.get("local"), registry.get("jwt")
    assert isinstance(local, LocalStrategy)
    assert local.service is ctx.service
    assert local.max_body_bytes == 2048
    assert isinstance(jwt, JWTStrategy)
    assert jwt.tokens is ctx.tokens
    assert isinstance(local, Strategy)
    assert isinstance(jwt, Strategy)


class _ClassLevelName:
    name: ClassVar[str] = "cls"

    async def authenticate(self, request: Request) -> Outcome:
        return Fail()


def test_strategy_protocol_is_runtime_checkable() -> None:
    assert isinstance(_ClassLevelName(), Strategy)
    assert not isinstance(object(), Strategy)


SETTINGS_PLUGIN = """
from typing import Annotated, ClassVar

import attrs

from authkit.plugin import AuthenticatedUser, Env, Fail, Range, Success


@attrs.frozen
class GreeterSettings:
    greeting: Annotated[str, Env("GREETER_WORD", "what the strategy's user is called")] = "hi"
    times: Annotated[int, Range(1, 3), Env("AUTHKIT_GREETER_TIMES", "how often")] = 1


class GreeterStrategy:
    name: ClassVar[str] = "greeter"

    def __init__(self, settings: GreeterSettings) -> None:
        self.settings = settings

    @classmethod
    def from_context(cls, ctx):
        return cls(ctx.settings.section(GreeterSettings))

    async def authenticate(self, request):
        word = self.settings.greeting * self.settings.times
        return Success(AuthenticatedUser(word, word))
"""


def test_a_plugin_declares_settings_that_the_loader_reads_for_its_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import authkit.settings.plugins

    (tmp_path / "greeter_plugin.py").write_text(SETTINGS_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))

    builtins = [
        EntryPoint(name, f"authkit.strategies.{name}:{cls}", ENTRY_POINT_GROUP)
        for name, cls in [("local", "LocalStrategy"), ("jwt", "JWTStrategy")]
    ]

    def entry_points(**kwargs: Any) -> list[EntryPoint]:
        group = kwargs["group"]
        if group == "authkit.settings":
            return [EntryPoint("greeter", "greeter_plugin:GreeterSettings", group)]
        return [*builtins, EntryPoint("greeter", "greeter_plugin:GreeterStrategy", group)]

    monkeypatch.setattr(authkit.settings.plugins, "entry_points", entry_points)
    monkeypatch.setattr(authkit.core.registry, "entry_points", entry_points)
    env = {"JWT_SECRET": "s" * 40, "GREETER_WORD": "yo", "AUTHKIT_GREETER_TIMES": "2"}
    settings = load_settings(env)
    greeter = create_app(settings, database=mongomock.MongoClient().db).state.strategies.get(
        "greeter"
    )
    assert (greeter.settings.greeting, greeter.settings.times) == ("yo", 2)

    with pytest.raises(ConfigError, match=r"AUTHKIT_GREETER_TIMES: expected a number from 1 to 3"):
        load_settings({**env, "AUTHKIT_GREETER_TIMES": "9"})
    with pytest.raises(ConfigError, match="unknown environment variable"):
        load_settings({**env, "AUTHKIT_GREETER_TIMEZ": "2"})
    # A plugin's section is its defaults when nothing sets it, or when the settings were
    # built in code.
    defaults = load_settings({"JWT_SECRET": "s" * 40}).section(
        sys.modules["greeter_plugin"].GreeterSettings
    )
    assert (defaults.greeting, defaults.times) == ("hi", 1)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("class NotAttrs:\n    pass\n", "it is not an attrs class"),
        (
            "import attrs\nfrom typing import Annotated\nfrom authkit.plugin import Env\n"
            "@attrs.frozen\nclass NotAttrs:\n"
            "    secret: Annotated[str, Env('JWT_SECRET', 'mine')] = 'x'\n",
            "declares JWT_SECRET, which authkit reads",
        ),
        (
            "import attrs\n@attrs.frozen\nclass NotAttrs:\n    undocumented: str = 'x'\n",
            "NotAttrs.undocumented declares no Env",
        ),
    ],
)
def test_a_broken_settings_plugin_stops_start_up_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, problem: str
) -> None:
    import authkit.settings.plugins

    module = f"broken_settings_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    point = EntryPoint("broken", f"{module}:NotAttrs", "authkit.settings")
    monkeypatch.setattr(authkit.settings.plugins, "entry_points", lambda **_: [point])
    with pytest.raises(ConfigError) as caught:
        load_settings({"JWT_SECRET": "s" * 40})
    assert "settings plugin 'broken'" in str(caught.value)
    assert problem in str(caught.value)
