"""Fixtures for tests/plugins: the example plugins installed as packages, used by real
processes (uvicorn, `python -m authkit`) against the session's real database.

- `demo` (function): `uvicorn demo_app:app` (tests/plugins/demo_app.py) on this test's
  database, with AUTHKIT_SIGNIN_LIMIT_ACCOUNT=3/15m; an httpx client on it comes with it.
- `cli` (function): `cli(*args, env=None)` runs `python -m authkit *args` on the same database and
  returns (exit code, stdout, stderr).
- `accounts`: sign up and sign in through the server.

The servers and database come from tests/conftest.py (`launch`, `server_env`, `mongo_db`);
Demo and Accounts, which the tests annotate with, from tests/support/plugins.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from support.plugins import ACCOUNT_LIMIT, PLUGINS_DIR, Accounts, Demo
from support.processes import Launcher, run_python

CLI_TIMEOUT = 60.0


@pytest.fixture
def demo_env(server_env: dict[str, str]) -> dict[str, str]:
    return {
        **server_env,
        "AUTHKIT_SIGNIN_LIMIT_ACCOUNT": f"{ACCOUNT_LIMIT}/15m",
        "AUTHKIT_LOG_FORMAT": "text",
    }


@pytest.fixture
def demo(launch: Launcher, demo_env: dict[str, str]) -> Iterator[Demo]:
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
        return run_python(
            ["-m", "authkit", *args], {**demo_env, **(env or {})}, workdir, timeout=CLI_TIMEOUT
        )

    return run
