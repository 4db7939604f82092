"""Fixtures for the integration, e2e and contract tests: a real MongoDB-protocol server,
a fresh database per test, and authkit run as a real process.

- `mongo_uri` (session): AUTHKIT_TEST_MONGO_URI when set, otherwise one in-memory
  SecantusDB (`authkit.embedded.EmbeddedMongo`) started for the whole session.
- `db_name` / `db_uri` / `mongo_db` (function): a database no other test uses, dropped
  afterwards, so no test sees another's users.
- `start_uvicorn` / `start_serve` (function): `python -m uvicorn authkit.asgi:app` or
  `python -m authkit serve` on a free loopback port, in its own process group, with an
  environment cleaned of every authkit variable; it waits until the server answers and
  terminates the whole group on teardown. `AppProcess.stderr()` shows what it logged.

The unit tests (tests/unit) have their own conftest and use none of this. The helpers these
fixtures are made of (AppProcess, Launcher, clean_environ, wait_until ...) are in
tests/support: test modules import them from there, never from a conftest.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError
from support.processes import (
    SERVE_ARGS,
    UVICORN_ARGS,
    AppProcess,
    Launcher,
    run_python,
    with_database,
)

from authkit.storage.embedded import EmbeddedMongo

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"

# 44 bytes: long enough that the server logs no short-secret warning.
TEST_SECRET = "integration-test-secret-0123456789abcdef0123"


# --------------------------------------------------------------------------- database


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """A MongoDB-protocol server for the whole session: AUTHKIT_TEST_MONGO_URI, or SecantusDB."""
    given = os.environ.get("AUTHKIT_TEST_MONGO_URI", "").strip()
    if given:
        yield given
        return
    server = EmbeddedMongo(data_dir=None)
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongo_client(mongo_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongo_uri, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def db_name(mongo_client: MongoClient[dict[str, Any]]) -> Iterator[str]:
    """A database name no other test uses; the database is dropped afterwards."""
    name = f"authkit_test_{uuid.uuid4().hex[:16]}"
    yield name
    with contextlib.suppress(PyMongoError):
        mongo_client.drop_database(name)


@pytest.fixture
def db_uri(mongo_uri: str, db_name: str) -> str:
    """MONGO_URI for this test's own database."""
    return with_database(mongo_uri, db_name)


@pytest.fixture
def mongo_db(mongo_client: MongoClient[dict[str, Any]], db_name: str) -> Database[dict[str, Any]]:
    """This test's database, for looking at what the server wrote."""
    return mongo_client[db_name]


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    return TEST_SECRET


# --------------------------------------------------------------------------- servers


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    """`launch(args, env, cwd=None, port=None, wait=True)`: run `python <args>` as a server
    (support.processes.Launcher). Every process started here is stopped, with its whole
    group, on teardown."""
    with Launcher(tmp_path) as launcher:
        yield launcher


@pytest.fixture
def start_uvicorn(launch: Callable[..., AppProcess]) -> Callable[..., AppProcess]:
    """`start_uvicorn(env)`: `uvicorn authkit.asgi:app` on a free port, answering when returned."""

    def run(env: Mapping[str, str | None], **kwargs: Any) -> AppProcess:
        return launch(UVICORN_ARGS, env, **kwargs)

    return run


@pytest.fixture
def start_serve(launch: Callable[..., AppProcess]) -> Callable[..., AppProcess]:
    """`start_serve(cwd, env)`: `python -m authkit serve --port <free>` in `cwd`."""

    def run(cwd: Path, env: Mapping[str, str | None] = (), **kwargs: Any) -> AppProcess:
        return launch(SERVE_ARGS, env, cwd=cwd, **kwargs)

    return run


@pytest.fixture
def run_to_exit() -> Callable[..., tuple[int, str]]:
    """`run_to_exit(args, env, cwd)`: run `python <args>`, which must exit by itself.

    Returns (exit code, stderr). A process still running after 30 s fails the test
    (subprocess.run kills it first). Outside a fixture: support.processes.run_python.
    """

    def run(args: Sequence[str], env: Mapping[str, str | None], cwd: Path) -> tuple[int, str]:
        code, _, err = run_python(args, env, cwd, timeout=30)
        return code, err

    return run


@pytest.fixture
def server_env(db_uri: str, jwt_secret: str) -> dict[str, str]:
    """What a test server needs: this test's database, the test secret, cheap bcrypt."""
    return {"MONGO_URI": db_uri, "JWT_SECRET": jwt_secret, "BCRYPT_ROUNDS": "4"}


@pytest.fixture
def app_server(start_uvicorn: Callable[..., AppProcess], server_env: dict[str, str]) -> AppProcess:
    """authkit under uvicorn on this test's database, ready to answer."""
    return start_uvicorn(server_env)
