"""Every docstring example under authkit/ and strategies/ runs (issue #15, item 10).

What an example is: in a module's, class's or function's docstring, a line `Example:`,
`Examples:` or `Example (what it shows):`, then an indented block, which ends at the first
line indented no deeper than that header. Each block is one test, named by its module and
where the docstring is (`authkit.tokens.keys:KeyRing`).

How a block runs: compiled with top-level `await` allowed (`ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`)
and with `from __future__ import annotations`, as every module here is; a block that awaits
runs in a fresh asyncio event loop, any other is executed as it is (so `authkit.testing.run`,
which starts a loop of its own, works in one). `...` placeholders are fine: they evaluate to
Ellipsis. Then, so that what a block only defines is exercised too:

- each `test_*` function it defines that takes no argument is called, as pytest would;
- each Starlette (or FastAPI) application it leaves in its namespace is started and stopped
  (its lifespan), and every GET route whose endpoint the block defined (mounted ones
  included) is requested with a bearer token `issuer` signed: it must not answer 5xx.

Its globals, fresh for every block:

- the public names (`__all__`) of the module the docstring is in, the names a reader of
  that module has in sight;
- the ready objects of `ready_objects()`, documented there (`db`, `settings`, `store`,
  `issuer`, `request`, ... and a few standard and Starlette names);
- whatever the block imports itself.

Around each block: the working directory is a fresh temporary one (an example may write
`keys.json`), the environment holds only `JWT_SECRET` and `BCRYPT_ROUNDS` of authkit's
variables (so `load_settings(os.environ)` works), `create_app` opens mongomock clients
instead of MongoDB ones (`authkit.application.open_client`), and the `authkit` loggers are
put back as they were.

A block whose first line is `# not run: <reason>` is compiled, so it stays valid Python,
but not run here. NOT_RUN lists those blocks, and a test holds that list to the docstrings: a
new exception shows up here, not only in a docstring. tox's processes env (`-m processes`)
runs them all the same.
"""

from __future__ import annotations
import __future__

import ast
import asyncio
import importlib
import inspect
import logging
import os
import re
import textwrap
import time
import traceback
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import mongomock
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from support.settings import SECRET

import authkit.application
from authkit import load_settings
from authkit.core.registry import StrategyRegistry
from authkit.core.strategy import StrategyContext
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.revocation import MongoDenylist
from authkit.sessions.store import MongoSessionStore
from authkit.settings.loader import ENV_VARS
from authkit.testing import make_request
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore

# Starlette >= 1.x warns when its test client runs on `httpx` rather than `httpx2` (as in
# tests/unit/conftest.py, which has imported it already in a full run).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"authkit": ROOT / "authkit", "authkit.strategies": ROOT / "strategies"}

# The blocks that are not run, each with its reason in its first line; keep it to the few
# that truly need what a unit test has not got.
NOT_RUN = {
    "authkit.storage.embedded": "starts a database server (python -m secantus)",
    "authkit.storage.datadir": "starts a database server (python -m secantus)",
}

HEADER = re.compile(r"^(?P<indent> *)Examples?( \([^)]*\))?:$")
NOT_RUN_MARK = re.compile(r"^# not run: (?P<reason>\S.*)$")


@attrs.frozen
class Block:
    module: str  # authkit.tokens.keys
    where: str  # "" for the module's docstring, else the class or function (KeyRing.current)
    path: str  # authkit/tokens/keys.py
    line: int  # the line of the block's first line in that file
    source: str  # dedented

    @property
    def name(self) -> str:
        return f"{self.module}:{self.where}" if self.where else self.module

    @property
    def not_run_reason(self) -> str | None:
        match = NOT_RUN_MARK.match(self.source.splitlines()[0])
        return match["reason"] if match else None


def blocks_in(text: str) -> Iterator[tuple[int, str]]:
    """(line within `text`, source) of each example block of one docstring, as
    `inspect.cleandoc` leaves it (the lines keep their place, only leading blanks go)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        header = HEADER.match(line)
        if header is None:
            continue
        depth = len(header["indent"])
        body: list[str] = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= depth:
                break
            body.append(following)
        first = next((n for n, text in enumerate(body) if text.strip()), None)
        if first is not None:
            yield i + 1 + first, textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def _module_name(path: Path) -> str:
    for package, folder in PACKAGES.items():
        if path.is_relative_to(folder):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            return ".".join((package, *parts))
    raise AssertionError(path)


def _docstrings(tree: ast.Module) -> Iterator[tuple[str, int, str]]:
    """(where, line of the cleaned docstring's first line, cleaned docstring) of the module
    and of every class and function in it, nested ones too."""

    def docstring_of(node: ast.AST) -> tuple[int, str] | None:
        body = getattr(node, "body", [])
        if not body or not isinstance(body[0], ast.Expr):
            return None
        value = body[0].value
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return None
        raw = value.value.expandtabs().splitlines()
        blank = next((n for n, text in enumerate(raw) if text.strip()), 0)
        return value.lineno + blank, inspect.cleandoc(value.value)

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                where = f"{prefix}{child.name}"
                found = docstring_of(child)
                if found:
                    yield (where, *found)
                yield from visit(child, f"{where}.")

    found = docstring_of(tree)
    if found:
        yield ("", *found)
    yield from visit(tree, "")


def all_blocks() -> list[Block]:
    found = []
    for folder in PACKAGES.values():
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"), str(path))
            relative = path.relative_to(ROOT).as_posix()
            for where, line, doc in _docstrings(tree):
                for offset, source in blocks_in(doc):
                    block = Block(_module_name(path), where, relative, line + offset, source)
                    found.append(block)
    return found


BLOCKS = all_blocks()


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


def ready_objects() -> dict[str, Any]:
    """What every example may use without importing it (besides its own module's names),
    made afresh for each block; each is what authkit's application builds, on `db`.

    - `db`: an empty in-memory database (mongomock), a pymongo `Database` to the code;
    - `settings`: `load_settings({"JWT_SECRET": ..., "BCRYPT_ROUNDS": "4"})`;
    - `store`: `MongoUserStore(db["users"])`, no users yet;
    - `issuer`: a `TokenIssuer` signing HS256 with that same JWT_SECRET, 60 s tokens;
    - `service`: `AuthService(store, PasswordHasher(4))`, no throttle;
    - `lifecycle`: a `TokenLifecycle` on `issuer`, `store` and sessions in `db`;
    - `ctx`: the `StrategyContext` of all these, as a strategy factory gets it;
    - `registry`: an empty `StrategyRegistry`;
    - `request`: `authkit.testing.make_request()`, a plain `GET /` from 203.0.113.7;
    - `routes`: your own routes, `[Route("/hello", hello)]` (`{"hello": "world"}`);
    - `os`, `time`, `Path`;
    - Starlette's `Starlette`, `Route`, `Mount`, `Middleware`, `HTTPEndpoint`, `Request`,
      `Response`, `JSONResponse`.
    """
    db = mongomock.MongoClient().db
    settings = load_settings({"JWT_SECRET": SECRET, "BCRYPT_ROUNDS": "4"}, plugins=[])
    store = MongoUserStore(db["users"])
    issuer = TokenIssuer(secret=SECRET, ttl_seconds=60)
    hasher = PasswordHasher(4)
    service = AuthService(store, hasher)
    sessions = MongoSessionStore(db["auth_sessions"], db["refresh_tokens"])
    ctx = StrategyContext(
        users=store,
        passwords=hasher,
        tokens=issuer,
        service=service,
        database=db,
        settings=settings,
    )
    return {
        "db": db,
        "settings": settings,
        "store": store,
        "issuer": issuer,
        "service": service,
        "lifecycle": TokenLifecycle(issuer, store, sessions, MongoDenylist(db["revoked_tokens"])),
        "ctx": ctx,
        "registry": StrategyRegistry(),
        "request": make_request(),
        "routes": [Route("/hello", hello)],
        "os": os,
        "time": time,
        "Path": Path,
        "Starlette": Starlette,
        "Route": Route,
        "Mount": Mount,
        "Middleware": Middleware,
        "HTTPEndpoint": HTTPEndpoint,
        "Request": Request,
        "Response": Response,
        "JSONResponse": JSONResponse,
    }


def namespace_for(module_name: str) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    names = {name: getattr(module, name) for name in getattr(module, "__all__", ())}
    return {"__name__": f"{module_name}.example", **names, **ready_objects()}


def compiled(block: Block) -> Any:
    filename = f"<example in {block.name}, {block.path}:{block.line}>"
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT | __future__.annotations.compiler_flag
    return compile(block.source, filename, "exec", flags=flags, dont_inherit=True)


def _own_get_routes(routes: Iterable[BaseRoute], module: str, prefix: str = "") -> list[str]:
    """The paths of the GET routes (mounted ones too) whose endpoint the example defined."""
    paths = []
    for route in routes:
        if isinstance(route, Mount):
            paths += _own_get_routes(route.routes, module, prefix + route.path)
        elif (
            isinstance(route, Route)
            and "GET" in (route.methods or ())
            and getattr(route.endpoint, "__module__", None) == module
            and "{" not in route.path
        ):
            paths.append(prefix + route.path)
    return paths


def probe_apps(namespace: dict[str, Any]) -> None:
    """Start every application the example left in its namespace, and GET each route the
    example defined with a token `issuer` signed: an example endpoint must not answer 500.
    An application mounted in another one is probed through it."""
    token = namespace["issuer"].issue(user_id="6650aa0c", username="alice")
    apps = {name: app for name, app in namespace.items() if isinstance(app, Starlette)}
    mounted = {
        id(route.app) for app in apps.values() for route in app.routes if isinstance(route, Mount)
    }
    for name, app in apps.items():
        if id(app) in mounted:
            continue
        with TestClient(app) as client:
            for path in _own_get_routes(app.routes, namespace["__name__"]):
                response = client.get(path, headers={"authorization": f"Bearer {token}"})
                assert response.status_code < 500, (name, path, response.text)


def execute(block: Block) -> dict[str, Any]:
    code = compiled(block)
    namespace = namespace_for(block.module)
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))  # noqa: S307 - our own docstrings
    else:
        exec(code, namespace)  # noqa: S102 - our own docstrings
    for name, value in list(namespace.items()):
        takes_nothing = inspect.isfunction(value) and not inspect.signature(value).parameters
        if name.startswith("test_") and takes_nothing:
            value()  # as pytest would
    probe_apps(namespace)
    return namespace


@pytest.fixture
def example_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A temporary working directory, an environment with only JWT_SECRET and BCRYPT_ROUNDS
    of authkit's variables, mongomock behind create_app, and the authkit loggers restored."""
    environ = dict(os.environ)  # an example may set a variable (MONGO_URI, say)
    monkeypatch.chdir(tmp_path)
    for name in (*ENV_VARS, "MONGO_URI"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("AUTHKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setattr(
        authkit.application, "open_client", lambda uri, **_: mongomock.MongoClient()
    )
    logger = logging.getLogger("authkit")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield
    finally:
        logger.handlers, logger.level, logger.propagate = saved
        os.environ.clear()
        os.environ.update(environ)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_example_runs(block: Block, example_world: None) -> None:
    reason = block.not_run_reason
    if reason is not None:
        compiled(block)
        pytest.skip(f"not run: {reason}")
    if block.name.startswith("authkit.fastapi"):
        pytest.importorskip(
            "fastapi.applications", reason="FastAPI is optional: tox -e fastapi runs this"
        )
    try:
        execute(block)
    except Exception:
        pytest.fail(
            f"the example in {block.name} ({block.path}:{block.line}) failed:\n\n"
            f"{textwrap.indent(block.source, '    ')}\n{traceback.format_exc()}",
            pytrace=False,
        )


@pytest.mark.processes
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.not_run_reason], ids=lambda b: b.name)
def test_example_not_run_here_runs_with_processes(block: Block, example_world: None) -> None:
    """What the unit suite leaves out (`# not run: ...`), tox's processes env runs: the
    examples that start a database server work too."""
    try:
        execute(block)
    except Exception:
        pytest.fail(
            f"the example in {block.name} ({block.path}:{block.line}) failed:\n\n"
            f"{textwrap.indent(block.source, '    ')}\n{traceback.format_exc()}",
            pytrace=False,
        )


def test_every_example_header_has_its_block() -> None:
    """Each `Example:` line in a file (found in its text, not through ast) is one block the
    finder found: a header in a docstring the finder does not visit, or one with no indented
    block under it, fails here instead of going untested."""
    found: dict[str, int] = {}
    for block in BLOCKS:
        found[block.path] = found.get(block.path, 0) + 1
    headers = {}
    for folder in PACKAGES.values():
        for path in folder.rglob("*.py"):
            count = len(re.findall(r"^ *Examples?( \([^)]*\))?:$", path.read_text("utf-8"), re.M))
            if count:
                headers[path.relative_to(ROOT).as_posix()] = count
    assert found == headers
    assert len(BLOCKS) >= 40


def test_not_run_blocks_are_the_listed_ones() -> None:
    marked = {b.name: b.not_run_reason for b in BLOCKS if b.not_run_reason is not None}
    assert marked == NOT_RUN


@pytest.mark.parametrize(
    "source",
    ["issuer.verify('not a token')\n", "await store.ensure_ready()\nissuer.verify('x')\n"],
    ids=["sync", "awaiting"],
)
def test_a_broken_example_fails_naming_its_module(source: str) -> None:
    broken = Block("authkit.tokens.issuer", "TokenIssuer", "authkit/tokens/issuer.py", 7, source)
    with pytest.raises(pytest.fail.Exception, match=r"authkit\.tokens\.issuer:TokenIssuer"):
        test_example_runs(broken, None)
