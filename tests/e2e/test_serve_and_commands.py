"""The CLI beside a running `authkit serve` on the embedded database (no MONGO_URI).

serve takes the data directory's lock and records where its database listens in
`.authkit/db.serve.json`; create-user, check and delete-user then use that database
instead of starting a second one over the same data (which WiredTiger refuses), and
never write to serve's database log. A record left by a serve that was SIGKILLed is
stale: the next command starts a database of its own, and the next serve replaces it.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.processes import AppProcess, run_python, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

PASSWORD = "Passw0rd!x"
ENV = {"BCRYPT_ROUNDS": "4", "JWT_EXPIRES_IN": "1h"}  # no MONGO_URI: the embedded database
MARKER = "a line serve's database log had before the commands ran\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    workdir = tmp_path / "project"
    workdir.mkdir()
    return workdir


def cli(args: list[str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    # A command waits at most 20 s for a database that is stopping: run_python allows 60.
    return run_python(["-m", "authkit", *args], ENV, cwd, stdin=stdin)


def signin(base_url: str, username: str) -> int:
    credentials = {"username": username, "password": PASSWORD}
    return httpx.post(base_url + "/auth/signin", json=credentials, timeout=15).status_code


def record_of(project: Path) -> dict[str, object]:
    path = project / ".authkit" / "db.serve.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found: dict[str, object] = json.loads(path.read_text("utf-8"))
    return found


def test_commands_use_the_database_serve_runs(
    start_serve: Callable[..., AppProcess], project: Path
) -> None:
    server = start_serve(project, ENV)
    record = record_of(project)
    assert record["pid"] == server.process.pid
    assert record["data_dir"] == str((project / ".authkit" / "db").resolve())
    assert str(record["uri"]) in server.stderr()
    serve_log = project / ".authkit" / "embedded-db.log"
    with serve_log.open("a", encoding="utf-8") as log:
        log.write(MARKER)

    code, out, err = cli(["create-user", "cli-user"], project, stdin=PASSWORD + "\n")
    assert code == 0, err
    assert out.startswith("created user 'cli-user' with id ")
    assert signin(server.base_url, "cli-user") == 201  # the served API sees the user

    code, out, err = cli(["check"], project)
    assert code == 0, err
    assert "database: reachable (embedded" in out, out
    assert f"`authkit serve` (pid {server.process.pid})" in out, out
    assert "  users: 1\n" in out, out

    code, out, err = cli(["delete-user", "cli-user"], project)
    assert (code, out) == (0, "deleted user 'cli-user'\n"), err
    assert signin(server.base_url, "cli-user") == 401

    assert serve_log.read_text("utf-8").startswith(MARKER)  # nothing wrote over it
    assert not (project / ".authkit" / "embedded-db.commands.log").exists()  # no 2nd database
    assert record_of(project) == record  # the commands leave serve's record alone

    server.send(signal.SIGTERM)
    assert server.wait(30) == 0, server.stderr()
    assert not (project / ".authkit" / "db.serve.json").exists()  # a clean exit removes it


def test_a_record_left_by_a_killed_serve_is_stale(
    start_serve: Callable[..., AppProcess], project: Path
) -> None:
    first = start_serve(project, ENV)
    assert cli(["create-user", "before-kill"], project, stdin=PASSWORD + "\n")[0] == 0
    first.send(signal.SIGKILL)
    first.wait(15)  # reaped: its pid is gone
    stale = record_of(project)
    assert stale["pid"] == first.process.pid

    # Its database stops by itself (it is told when serve dies); the command waits for
    # that, finds the record stale, and starts a database of its own over the same data.
    code, out, err = cli(["create-user", "after-kill"], project, stdin=PASSWORD + "\n")
    assert code == 0, err
    assert not (project / ".authkit" / "db.serve.json").exists()
    assert wait_until(lambda: not first.children_alive(), 15), "serve's database outlived it"
    code, out, err = cli(["check"], project)
    assert code == 0, err
    assert "started for this check" in out and "  users: 2\n" in out, out
    log = project / ".authkit" / "embedded-db.commands.log"
    assert log.exists()  # the commands' own database logs to a file of its own

    second = start_serve(project, ENV)
    assert record_of(project)["pid"] == second.process.pid != stale["pid"]
    assert signin(second.base_url, "before-kill") == signin(second.base_url, "after-kill") == 201


def test_a_stale_record_without_a_lock_holder_is_ignored(
    start_serve: Callable[..., AppProcess], project: Path
) -> None:
    (project / ".env").write_text("JWT_SECRET=" + "s" * 48 + "\n", encoding="utf-8")
    data_dir = (project / ".authkit" / "db").resolve()
    data_dir.mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    record = {
        "uri": "mongodb://127.0.0.1:9/authkit",
        "pid": int(gone.stdout),
        "data_dir": str(data_dir),
    }
    (data_dir.parent / "db.serve.json").write_text(json.dumps(record), encoding="utf-8")

    code, _, err = cli(["create-user", "someone"], project, stdin=PASSWORD + "\n")

    assert code == 0, err
    assert not (data_dir.parent / "db.serve.json").exists()
    server = start_serve(project, ENV)
    assert signin(server.base_url, "someone") == 201
