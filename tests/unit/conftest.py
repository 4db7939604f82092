"""Fixtures shared by the unit tests: test data, settings, a mongomock database, the app
behind Starlette's TestClient, and hand-built Starlette requests for strategies.

Nothing here touches os.environ, the network or the clock.
"""

from __future__ import annotations

import importlib.metadata
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mongomock
import pytest
from starlette.requests import Request
from support.accounts import Mailbox
from support.clock import Clock
from support.settings import SECRET, make_settings

import authkit.cli.main
import authkit.core.registry
import authkit.events.plugins
import authkit.testing
from authkit import create_app
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.settings.model import Settings
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore

# Starlette >= 1.x warns at import time when the test client runs on `httpx` rather than
# `httpx2`; the suite runs with filterwarnings=error, so the import is done here, once.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

TESTS_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = TESTS_DIR / "data"
CONTRACT_FILE = TESTS_DIR / "contract" / "reference" / "contract.json"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _authkits_own(*, group: str) -> list[importlib.metadata.EntryPoint]:
    return [
        ep
        for ep in importlib.metadata.entry_points(group=group)
        if ep.dist is not None and ep.dist.name == "authkit-asgi"
    ]


@pytest.fixture(autouse=True)
def only_authkits_own_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tests describe authkit alone. Plugins installed in the same venv (the
    examples, `pip install -e docs/examples/authkit-apikey`) would add their strategies, routes
    and commands to every app and CLI built here; tests/plugins is where those are tested.
    A test that fakes entry points patches over this."""
    monkeypatch.setattr(authkit.core.registry, "entry_points", _authkits_own)
    monkeypatch.setattr(authkit.cli.main, "entry_points", _authkits_own)
    monkeypatch.setattr(authkit.events.plugins, "entry_points", _authkits_own)


@pytest.fixture(scope="session")
def node_compat() -> dict[str, Any]:
    """Users, bcrypt hashes and JWTs made by the NestJS reference app."""
    data: dict[str, Any] = json.loads((DATA_DIR / "node-compat.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def bcryptjs_hashes() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA_DIR / "bcryptjs-hashes.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def contract() -> dict[str, dict[str, Any]]:
    """The NestJS app's recorded answers, by case name."""
    recorded = json.loads(CONTRACT_FILE.read_text("utf-8"))
    return {case["case"]: case for case in recorded["cases"]}


@pytest.fixture
def mailbox(caplog: pytest.LogCaptureFixture) -> Mailbox:
    """The mail the development sender wrote to the log (the default without AUTHKIT_SMTP_URL)."""
    return Mailbox(caplog)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def db() -> Any:
    """A fresh in-memory MongoDB database (mongomock), one per test."""
    return mongomock.MongoClient().db


@pytest.fixture
def make_client(db: Any, client_for: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """Build the whole app on `db` and enter its lifespan; keyword arguments go to TestClient."""

    def build(settings: Settings | None = None, **kwargs: Any) -> TestClient:
        return client_for(create_app(settings or make_settings(), database=db), **kwargs)

    return build


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """A TestClient (lifespan entered) for any ASGI app; keyword arguments go to TestClient."""
    opened: list[TestClient] = []

    def build(app: Any, **kwargs: Any) -> TestClient:
        client = TestClient(app, **kwargs)
        client.__enter__()
        opened.append(client)
        return client

    yield build
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture
def clock() -> Clock:
    """The `issuer`'s clock, at support.clock.FIXED_NOW until a test moves it (.now, .advance)."""
    return Clock()


@pytest.fixture
def issuer(clock: Clock) -> TokenIssuer:
    return TokenIssuer(SECRET, 60, clock=clock)


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(rounds=4)


@pytest.fixture
def store(db: Any) -> MongoUserStore:
    return MongoUserStore(db["users"])


@pytest.fixture
def service(store: MongoUserStore, hasher: PasswordHasher, issuer: TokenIssuer) -> AuthService:
    return AuthService(users=store, passwords=hasher)


@pytest.fixture
def make_request() -> Callable[..., Request]:
    """authkit.testing.make_request: the request a strategy sees, as plugin authors build it."""
    return authkit.testing.make_request
