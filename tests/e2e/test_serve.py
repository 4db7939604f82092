"""`authkit serve` as a new user runs it: in a fresh directory, with nothing configured.

The first run writes a JWT_SECRET to `.env` (mode 0600) and says so, starts the
embedded database with its data in `.authkit/db`, serves the three routes, and on
SIGTERM (what `kill`, systemd and `docker stop` send) exits 0 and takes the
database down with it. A second run in the same directory finds the same users and
the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import signal
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.database import Database
from support.jwt import b64url, bearer
from support.processes import AppProcess, embedded_db_port, port_closed

from authkit.storage.embedded import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

CREDENTIALS = {"username": "alice", "password": "Passw0rd!x"}
ENV = {"BCRYPT_ROUNDS": "4", "JWT_EXPIRES_IN": "1h"}  # no MONGO_URI, no JWT_SECRET
NEW_SECRET_NOTICE = "no JWT_SECRET was set"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    workdir = tmp_path / "project"
    workdir.mkdir()
    return workdir


def env_secret(env_file: Path) -> str:
    found = re.findall(r"^JWT_SECRET=(.+)$", env_file.read_text("utf-8"), re.MULTILINE)
    assert len(found) == 1, env_file.read_text("utf-8")
    return found[0]


def signed_with(token: str, secret: str) -> bool:
    header, payload, signature = token.split(".")
    digest = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return b64url(digest) == signature


def sign_up_and_in(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=15) as http:
        signup = http.post("/auth/signup", json=CREDENTIALS)
        assert signup.status_code == 201, signup.text
        signin = http.post("/auth/signin", data=CREDENTIALS)
        assert signin.status_code == 201, signin.text
        token: str = signin.json()["accessToken"]
        me = http.get("/auth/me", headers=bearer(token))
        assert (me.status_code, me.json()["username"]) == (200, "alice")
    return token


def stop_with(server: AppProcess, sig: signal.Signals) -> int:
    """Send `sig` to authkit serve alone (as `kill` does; a terminal's Ctrl-C reaches its
    whole process group) and wait for it to exit."""
    server.send(sig)
    try:
        return server.wait(30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"authkit serve did not exit within 30 s of {sig.name}:\n" + server.stderr())


def test_first_run_in_an_empty_directory(
    start_serve: Callable[..., AppProcess], project: Path
) -> None:
    server = start_serve(project, ENV)
    stderr = server.stderr()

    env_file = project / ".env"
    assert env_file.is_file()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    secret = env_secret(env_file)
    assert len(secret) >= 32
    assert NEW_SECRET_NOTICE in stderr and str(env_file.resolve()) in stderr, stderr
    assert secret not in stderr  # says where the secret is, never what it is

    data_dir = project / ".authkit" / "db"
    assert str(data_dir.resolve()) in stderr, stderr
    db_port = embedded_db_port(stderr)

    token = sign_up_and_in(server.base_url)
    assert signed_with(token, secret)  # the secret in .env is the one in use
    assert data_dir.is_dir() and any(data_dir.iterdir())
    # Every user's password hash is in there: nobody but this user may read any of it.
    readable = [
        f"{oct(stat.S_IMODE(path.stat().st_mode))} {path.relative_to(project)}"
        for path in [project / ".authkit", *(project / ".authkit").rglob("*")]
        if stat.S_IMODE(path.stat().st_mode) & 0o077
    ]
    assert readable == []

    code = stop_with(server, signal.SIGTERM)
    problems = []
    if code != 0:
        problems.append(f"exit status {code} after SIGTERM, not 0")
    if server.children_alive():
        problems.append("the embedded database outlived authkit serve")
    if not port_closed(db_port):
        problems.append(f"the embedded database still listens on port {db_port}")
    assert not problems, "; ".join(problems) + "\n" + server.stderr()


def test_ctrl_c_stops_the_server_and_the_embedded_database(
    start_serve: Callable[..., AppProcess], project: Path
) -> None:
    server = start_serve(project, ENV)
    db_port = embedded_db_port(server.stderr())

    code = stop_with(server, signal.SIGINT)

    assert code == 0, server.stderr()
    assert not server.children_alive(), "the embedded database outlived authkit serve"
    assert port_closed(db_port)


def test_mongo_uri_in_dot_env_is_used_instead_of_the_embedded_database(
    start_serve: Callable[..., AppProcess],
    project: Path,
    db_uri: str,
    mongo_db: Database[dict[str, Any]],
) -> None:
    env_file = project / ".env"
    env_file.write_text(f"MONGO_URI={db_uri}", encoding="utf-8")  # no final newline
    env_file.chmod(0o644)

    server = start_serve(project, ENV)

    lines = env_file.read_text("utf-8").splitlines()
    assert lines[0] == f"MONGO_URI={db_uri}" and lines[1].startswith("JWT_SECRET="), lines
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds a secret now
    assert "embedded database" not in server.stderr(), server.stderr()
    assert not (project / ".authkit").exists()
    sign_up_and_in(server.base_url)
    assert mongo_db["users"].count_documents({"username": "alice"}) == 1


def test_second_run_keeps_the_users_and_the_secret(
    start_serve: Callable[..., AppProcess], project: Path
) -> None:
    first = start_serve(project, ENV)
    token = sign_up_and_in(first.base_url)
    env_before = (project / ".env").read_bytes()
    stop_with(first, signal.SIGTERM)
    first.shutdown()  # whatever it left running must release the data before the next run

    second = start_serve(project, ENV)

    assert NEW_SECRET_NOTICE not in second.stderr(), second.stderr()
    assert (project / ".env").read_bytes() == env_before
    with httpx.Client(base_url=second.base_url, timeout=15) as http:
        signin = http.post("/auth/signin", json=CREDENTIALS)
        assert signin.status_code == 201, signin.text  # the user from the first run
        me = http.get("/auth/me", headers=bearer(token))
        assert me.status_code == 200  # the first run's token: same secret
        assert http.post("/auth/signup", json=CREDENTIALS).status_code == 409


def test_a_second_serve_on_a_data_dir_in_use_says_why_it_cannot_start(
    start_serve: Callable[..., AppProcess],
    run_to_exit: Callable[..., tuple[int, str]],
    project: Path,
) -> None:
    first = start_serve(project, ENV)

    code, stderr = run_to_exit(("-m", "authkit", "serve", "--port", str(free_port())), ENV, project)

    assert code != 0
    # It must point at the real cause (the data directory is in use; the database's log
    # says so), not send the user off to reinstall a package that is installed.
    data_dir, log_file = project / ".authkit" / "db", project / ".authkit" / "embedded-db.log"
    assert str(data_dir.resolve()) in stderr or str(log_file.resolve()) in stderr, stderr
    assert "is the `secantusdb` package installed" not in stderr, stderr
    with httpx.Client(base_url=first.base_url, timeout=15) as http:
        assert http.post("/auth/signup", json=CREDENTIALS).status_code == 201  # unharmed


MY_APP = """
import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from authkit import guard, load_settings, serving


@guard("jwt")
async def profile(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.user.display_name})


app = serving(lambda: load_settings(os.environ, Path(".env")), routes=[Route("/profile", profile)])
"""


def test_serve_runs_an_application_of_ones_own_from_the_working_directory(
    launch: Callable[..., AppProcess], project: Path
) -> None:
    # -I: like the `authkit` console script, the working directory is not on sys.path by
    # itself; `--app` must find the module there, as uvicorn's own command does.
    (project / "myapp.py").write_text(MY_APP, "utf-8")
    server = launch(
        ("-I", "-m", "authkit", "serve", "--app", "myapp:app", "--port", "{port}"),
        ENV,
        cwd=project,
    )
    token = sign_up_and_in(server.base_url)
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        mine = http.get("/profile", headers=bearer(token))
        anonymous = http.get("/profile")
    assert (mine.status_code, mine.json()) == (200, {"hello": "alice"})
    assert anonymous.status_code == 401
    assert stop_with(server, signal.SIGTERM) == 0
