"""authkit and the NestJS reference app side by side on one database and one secret.

Users made by either sign in on the other, tokens issued by either open the other's
/auth/me, and a username taken on one is a 409 on the other. This runs the real
NestJS app the bench carries (tests/bench/peers/nest-seed, or AUTHKIT_NEST_REFERENCE),
so it needs Node.js and npm, and skips with the reason when they or the folder are
missing. The tox environment
`interop` runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.processes import UVICORN_ARGS, Launcher

from authkit.storage.embedded import EmbeddedMongo, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "interop-secret-0123456789abcdef0123"


def _reference() -> Path | None:
    given = os.environ.get("AUTHKIT_NEST_REFERENCE")
    # The copy the bench carries (tests/bench/peers), so a clone runs this on its own.
    path = Path(given) if given else ROOT / "tests" / "bench" / "peers" / "nest-seed"
    return path if (path / "run.sh").is_file() else None


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before answering")
        try:
            urllib.request.urlopen(url + "/", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


@pytest.fixture(scope="module")
def nest_app_dir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    reference = _reference()
    if reference is None:
        pytest.skip("the NestJS reference app is not found (AUTHKIT_NEST_REFERENCE)")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to run the NestJS reference app")
    # A writable copy, cached between runs: `npm ci` is the slow part.
    cache_provider = getattr(request.config, "cache", None)
    cache = cache_provider.mkdir("nest-seed") if cache_provider is not None else None
    target = Path(cache) if cache else tmp_path_factory.mktemp("nest-seed")
    for item in ("src", "package.json", "package-lock.json", "tsconfig.json", "run.sh"):
        source = reference / item
        if source.is_dir():
            shutil.copytree(source, target / item, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / item)
        for path in [target / item, *(target / item).rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    return target


@pytest.fixture(scope="module")
def servers(
    nest_app_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    # authkit starts through the one launcher, whose environment has no AUTHKIT_* variable
    # (AUTHKIT_NEST_REFERENCE is this test's; authkit refuses to start on unknown ones).
    # The NestJS app is `bash run.sh`, not Python, and may spend minutes in `npm ci`: it
    # keeps its own Popen and wait.
    with EmbeddedMongo() as database, Launcher(tmp_path_factory.mktemp("authkit")) as launch:
        uri = f"mongodb://127.0.0.1:{database.port}/shared"
        nest_port = free_port()
        nest = subprocess.Popen(
            ["bash", str(nest_app_dir / "run.sh")],
            env={**os.environ, "PORT": str(nest_port), "MONGO_URI": uri, "JWT_SECRET": SECRET},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ours = launch(
                UVICORN_ARGS,
                {"MONGO_URI": uri, "JWT_SECRET": SECRET, "BCRYPT_ROUNDS": "10"},
                cwd=nest_app_dir.parent,
            )
            nest_url = f"http://127.0.0.1:{nest_port}"
            _wait_until_up(nest_url, nest, 300)  # npm ci on the first run
            yield nest_url, ours.base_url
        finally:
            nest.terminate()
            nest.wait(15)


def test_users_and_tokens_cross_over_both_ways(servers: tuple[str, str]) -> None:
    nest, ours = servers
    assert (
        _call("POST", nest + "/auth/signup", {"username": "madeinnest", "password": "password-n"})[
            0
        ]
        == 201
    )
    assert (
        _call("POST", ours + "/auth/signup", {"username": "madeinours", "password": "password-o"})[
            0
        ]
        == 201
    )

    status, body = _call(
        "POST", ours + "/auth/signin", {"username": "madeinnest", "password": "password-n"}
    )
    assert status == 201
    our_token = json.loads(body)["accessToken"]
    status, body = _call(
        "POST", nest + "/auth/signin", {"username": "madeinours", "password": "password-o"}
    )
    assert status == 201
    nest_token = json.loads(body)["accessToken"]

    status, body = _call("GET", nest + "/auth/me", token=our_token)
    assert (status, json.loads(body)["username"]) == (200, "madeinnest")
    status, body = _call("GET", ours + "/auth/me", token=nest_token)
    assert (status, json.loads(body)["username"]) == (200, "madeinours")

    assert (
        _call("POST", nest + "/auth/signup", {"username": "madeinours", "password": "password-o"})[
            0
        ]
        == 409
    )
    assert (
        _call("POST", ours + "/auth/signup", {"username": "madeinnest", "password": "password-n"})[
            0
        ]
        == 409
    )
    # A wrong password is refused by both for users made by the other.
    assert (
        _call("POST", ours + "/auth/signin", {"username": "madeinnest", "password": "wrong-pass"})[
            0
        ]
        == 401
    )
    assert (
        _call("POST", nest + "/auth/signin", {"username": "madeinours", "password": "wrong-pass"})[
            0
        ]
        == 401
    )
