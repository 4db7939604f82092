"""Start-up as an operator meets it: `uvicorn authkit.asgi:app` and `authkit serve` with a
missing or unusable setting exit non-zero with a message naming the variable, and never start
serving; a `.env` in the working directory is read.

Each process runs in an empty temporary directory (no `.env` of the repository's)
with an environment from which every authkit variable was removed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.jwt import bearer
from support.processes import AppProcess

from authkit.storage.embedded import free_port

pytestmark = pytest.mark.e2e

UVICORN = ("-m", "uvicorn", "authkit.asgi:app", "--host", "127.0.0.1")
RunToExit = Callable[..., tuple[int, str]]


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    workdir = tmp_path / "empty"
    workdir.mkdir()
    return workdir


def test_uvicorn_without_jwt_secret_refuses_to_start(
    run_to_exit: RunToExit, empty_dir: Path, db_uri: str
) -> None:
    code, stderr = run_to_exit(
        (*UVICORN, "--port", str(free_port())), {"MONGO_URI": db_uri}, empty_dir
    )

    assert code != 0
    assert "JWT_SECRET is not set" in stderr, stderr
    assert "Traceback" not in stderr, stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "abc"), ("PORT", "70000"), ("BCRYPT_ROUNDS", "3"), ("BCRYPT_ROUNDS", "ten")],
)
def test_uvicorn_with_an_invalid_setting_names_the_variable(
    run_to_exit: RunToExit, empty_dir: Path, db_uri: str, jwt_secret: str, name: str, value: str
) -> None:
    env = {"MONGO_URI": db_uri, "JWT_SECRET": jwt_secret, name: value}

    code, stderr = run_to_exit((*UVICORN, "--port", str(free_port())), env, empty_dir)

    assert code != 0
    assert f"{name}: " in stderr, stderr
    assert value in stderr, stderr
    assert jwt_secret not in stderr  # the secret is never echoed back
    assert "Traceback" not in stderr, stderr


def test_authkit_serve_with_an_invalid_setting_names_the_variable(
    run_to_exit: RunToExit, empty_dir: Path, jwt_secret: str
) -> None:
    env = {"JWT_SECRET": jwt_secret, "BCRYPT_ROUNDS": "99"}

    code, stderr = run_to_exit(
        ("-m", "authkit", "serve", "--port", str(free_port())), env, empty_dir
    )

    assert code != 0
    assert "BCRYPT_ROUNDS" in stderr and "99" in stderr, stderr
    assert not (empty_dir / ".authkit").exists()  # stopped before starting a database


def test_uvicorn_reads_dot_env_in_its_working_directory(
    start_uvicorn: Callable[..., AppProcess], empty_dir: Path, db_uri: str, jwt_secret: str
) -> None:
    (empty_dir / ".env").write_text(
        f"# shared with other tools\nMONGO_URI={db_uri}\nJWT_SECRET={jwt_secret}\n"
        "BCRYPT_ROUNDS=4\nJWT_EXPIRES_IN=2m\nOTHER_TOOL_SETTING=1\n",
        encoding="utf-8",
    )
    server = start_uvicorn({}, cwd=empty_dir)

    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        credentials = {"username": "alice", "password": "Passw0rd!x"}
        assert http.post("/auth/signup", json=credentials).status_code == 201
        token = http.post("/auth/signin", json=credentials).json()["accessToken"]
        me = http.get("/auth/me", headers=bearer(token))

    assert me.status_code == 200
    assert me.json()["username"] == "alice"
