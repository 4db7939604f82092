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

The unit tests (tests/unit) have their own conftest and use none of this.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from authkit.settings.loader import ENV_VARS
from authkit.storage.embedded import EmbeddedMongo, free_port

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"

# 44 bytes: long enough that the server logs no short-secret warning.
TEST_SECRET = "integration-test-secret-0123456789abcdef0123"
STARTUP_TIMEOUT = 30.0  # seconds; a server that has not answered by then is broken
STOP_TIMEOUT = 15.0


def with_database(uri: str, name: str) -> str:
    """`uri` naming database `name` instead of the one it names (hosts and options kept)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def clean_environ(overrides: Mapping[str, str | None] = ()) -> dict[str, str]:
    """This process's environment without any variable authkit reads, plus `overrides`.

    AUTHKIT_* variables go too: the server refuses unknown ones (AUTHKIT_TEST_MONGO_URI).
    An override of None removes the variable.
    """
    env = {
        k: v for k, v in os.environ.items() if k not in ENV_VARS and not k.startswith("AUTHKIT_")
    }
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in dict(overrides).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def group_alive(pgid: int) -> bool:
    """True while any process of process group `pgid` is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a member we may not signal still exists
        return True
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


class AppProcess:
    """One server process (and whatever it starts), in a process group of its own."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        port: int,
        logs: Path,
        executable: str = sys.executable,
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.cwd = cwd
        self._stdout_path = logs / f"server-{port}.stdout"
        self._stderr_path = logs / f"server-{port}.stderr"
        with self._stdout_path.open("wb") as out, self._stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [executable, *args],
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own group: teardown reaches its children too
            )
        self.pgid = self.process.pid

    def stderr(self) -> str:
        return self._stderr_path.read_text("utf-8", errors="replace")

    def stdout(self) -> str:
        return self._stdout_path.read_text("utf-8", errors="replace")

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll GET / until the server answers anything; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode} before answering:\n"
                    + self.stderr()
                )
            try:
                httpx.get(self.base_url + "/", timeout=1.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not answer on {self.base_url} within {timeout:.0f} s:\n"
                        + self.stderr()
                    ) from None
                time.sleep(0.05)

    def send(self, sig: int) -> None:
        """Send `sig` to the server process only (not its group), as `kill PID` does."""
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        return self.process.wait(timeout)

    def children_alive(self) -> bool:
        """True while a process the server started (e.g. the embedded database) still runs."""
        return group_alive(self.pgid)

    def shutdown(self) -> None:
        """Stop the server and everything in its group: SIGTERM, then SIGKILL after a while."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if group_alive(self.pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            if not wait_until(lambda: not group_alive(self.pgid), STOP_TIMEOUT):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                wait_until(lambda: not group_alive(self.pgid), STOP_TIMEOUT)


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
def launch(tmp_path: Path) -> Iterator[Callable[..., AppProcess]]:
    """`launch(args, env, cwd=None, port=None, wait=True, executable=None)`: run
    `python <args>` (or `<executable> <args>`) as a server.

    `args` may contain "{port}"; `env` overrides a cleaned environment (None unsets).
    Every process started here is stopped, with its whole group, on teardown.
    """
    started: list[AppProcess] = []
    logs = tmp_path / "server-logs"
    logs.mkdir()

    def run(
        args: Sequence[str],
        env: Mapping[str, str | None] = (),
        *,
        cwd: Path | None = None,
        port: int | None = None,
        wait: bool = True,
        executable: str | None = None,
    ) -> AppProcess:
        port = port or free_port()
        workdir = cwd or tmp_path
        server = AppProcess(
            [a.format(port=port) for a in args],
            clean_environ(env),
            workdir,
            port,
            logs,
            executable or sys.executable,
        )
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    try:
        yield run
    finally:
        for server in reversed(started):
            server.shutdown()


UVICORN_ARGS = ("-m", "uvicorn", "authkit.asgi:app", "--host", "127.0.0.1", "--port", "{port}")


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
        return launch(("-m", "authkit", "serve", "--port", "{port}"), env, cwd=cwd, **kwargs)

    return run


@pytest.fixture
def run_to_exit() -> Callable[..., tuple[int, str]]:
    """`run_to_exit(args, env, cwd)`: run `python <args>`, which must exit by itself.

    Returns (exit code, stderr). A process still running after 30 s fails the test
    (subprocess.run kills it first).
    """

    def run(args: Sequence[str], env: Mapping[str, str | None], cwd: Path) -> tuple[int, str]:
        try:
            done = subprocess.run(
                [sys.executable, *args],
                env=clean_environ(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"python {' '.join(args)} kept running instead of exiting: {exc.stderr!r}")
        return done.returncode, done.stderr

    return run


@pytest.fixture
def server_env(db_uri: str, jwt_secret: str) -> dict[str, str]:
    """What a test server needs: this test's database, the test secret, cheap bcrypt."""
    return {"MONGO_URI": db_uri, "JWT_SECRET": jwt_secret, "BCRYPT_ROUNDS": "4"}


@pytest.fixture
def app_server(start_uvicorn: Callable[..., AppProcess], server_env: dict[str, str]) -> AppProcess:
    """authkit under uvicorn on this test's database, ready to answer."""
    return start_uvicorn(server_env)
