"""Fixtures for tests/plugins: the example plugins installed as packages, used by real
processes (uvicorn, `python -m authkit`) against the session's real database.

- `demo` (function): `uvicorn demo_app:app` (tests/plugins/demo_app.py) on this test's
  database, with AUTHKIT_SIGNIN_LIMIT_ACCOUNT=3/15m; an httpx client on it comes with it.
- `cli` (function): `cli(*args, env=None)` runs `python -m authkit *args` on the same database and
  returns (exit code, stdout, stderr).
- `accounts`: sign up and sign in through the server.

The servers and database come from tests/conftest.py (`launch`, `server_env`, `mongo_db`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest

from authkit.settings.loader import ENV_VARS

if TYPE_CHECKING:
    from conftest import AppProcess

PLUGINS_DIR = Path(__file__).resolve().parent
ACCOUNT_LIMIT = 3
CLI_TIMEOUT = 60.0


def plugin_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This environment without anything authkit reads, plus `overrides` (as the servers get)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ENV_VARS and not k.startswith("AUTHKIT_")
    }
    return {**env, "PYTHONUNBUFFERED": "1", **overrides}


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy (for work done after a response)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"still {found!r} after {timeout} s")
        time.sleep(0.05)


@attrs.frozen
class Demo:
    server: AppProcess
    http: httpx.Client


@pytest.fixture
def demo_env(server_env: dict[str, str]) -> dict[str, str]:
    return {
        **server_env,
        "AUTHKIT_SIGNIN_LIMIT_ACCOUNT": f"{ACCOUNT_LIMIT}/15m",
        "AUTHKIT_LOG_FORMAT": "text",
    }


@pytest.fixture
def demo(launch: Callable[..., AppProcess], demo_env: dict[str, str]) -> Iterator[Demo]:
    server = launch(
        (
            "-m",
            "uvicorn",
            "demo_app:app",
            "--app-dir",
            str(PLUGINS_DIR),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
        ),
        demo_env,
    )
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        yield Demo(server, http)


@attrs.frozen
class Accounts:
    http: httpx.Client

    def sign_up(self, username: str, password: str) -> None:
        answer = self.http.post("/auth/signup", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.text

    def token(self, username: str, password: str) -> dict[str, str]:
        """An Authorization header with a fresh JWT, from POST /auth/signin."""
        answer = self.http.post("/auth/signin", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json()['accessToken']}"}

    def user_with_token(self, username: str, password: str) -> dict[str, str]:
        self.sign_up(username, password)
        return self.token(username, password)


@pytest.fixture
def accounts(demo: Demo) -> Accounts:
    return Accounts(demo.http)


@pytest.fixture
def cli(demo_env: dict[str, str], tmp_path: Path) -> Callable[..., tuple[int, str, str]]:
    """`cli(*args, env=None)`: `python -m authkit *args` on this test's database
    (`env` overrides the server's environment)."""
    workdir = tmp_path / "cli"
    workdir.mkdir()

    def run(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "authkit", *args],
                env=plugin_env({**demo_env, **(env or {})}),
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=CLI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:  # subprocess.run has killed it
            pytest.fail(f"authkit {' '.join(args)} did not exit: {exc.stderr!r}")
        return done.returncode, done.stdout, done.stderr

    return run
