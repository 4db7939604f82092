"""What an operator touches, through real processes: the CLI commands, the health
probes, the access log, /metrics, and `authkit serve --workers 2` sharing one database.
The same behaviour through the TestClient: tests/unit/test_observability.py,
tests/unit/test_health.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.jwt import bearer
from support.processes import AppProcess, run_python, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

PASSWORD = "Passw0rd!x"
METRICS_TOKEN = "e2e-metrics-token-0123456789abcdef0123"


def cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    return run_python(["-m", "authkit", *args], env, cwd, stdin=stdin)


@pytest.mark.parametrize(
    "command", ["serve", "check", "create-user", "delete-user", "users", "gen-secret", "keys"]
)
def test_every_command_has_help(command: str, tmp_path: Path) -> None:
    code, out, _ = cli([command, "--help"], {}, tmp_path)
    assert code == 0
    assert out.startswith(f"usage: authkit {command}")


def test_gen_secret_prints_a_strong_secret_each_time(tmp_path: Path) -> None:
    first, second = cli(["gen-secret"], {}, tmp_path), cli(["gen-secret"], {}, tmp_path)
    assert first[0] == second[0] == 0
    assert len(first[1].strip()) >= 64 and first[1] != second[1]
    assert cli(["gen-secret", "--bytes", "8"], {}, tmp_path)[0] != 0


def test_check_masks_the_secret_and_reports_the_database(
    server_env: dict[str, str], jwt_secret: str, tmp_path: Path
) -> None:
    code, out, err = cli(["check"], server_env, tmp_path)
    assert code == 0, err
    assert "configuration: valid" in out and "database: reachable" in out
    assert "JWT_SECRET=Secret('**********')" in out
    assert jwt_secret not in out + err

    down = {**server_env, "MONGO_URI": "mongodb://127.0.0.1:9/authkit?serverSelectionTimeoutMS=500"}
    code, out, err = cli(["check"], down, tmp_path)
    assert code == 1
    assert "is not reachable" in err
    assert len(err.strip().splitlines()) == 1, err
    code, _, err = cli(["create-user", "someone"], down, tmp_path, stdin=PASSWORD + "\n")
    assert code == 1
    # One line, without the log records of the database layer beneath it.
    assert err.strip().splitlines() == [
        "authkit: cannot create 'someone': The user database is unavailable; try again shortly"
    ]

    code, _, err = cli(["check"], {**server_env, "PORT": "eighty"}, tmp_path)
    assert code == 2
    assert "PORT: expected a whole number" in err


def test_users_made_and_removed_by_the_cli_are_seen_by_the_service(
    server_env: dict[str, str], app_server: AppProcess, tmp_path: Path
) -> None:
    code, out, err = cli(["create-user", "cli-user"], server_env, tmp_path, stdin=PASSWORD + "\n")
    assert code == 0, err
    assert out.startswith("created user 'cli-user' with id ")
    signin = httpx.post(
        app_server.base_url + "/auth/signin", json={"username": "cli-user", "password": PASSWORD}
    )
    assert signin.status_code == 201

    again = cli(["create-user", "cli-user"], server_env, tmp_path, stdin=PASSWORD + "\n")
    assert again[0] == 1 and "User already exists" in again[2]
    weak = cli(["create-user", "bad"], server_env, tmp_path, stdin="short\n")
    assert weak[0] == 1
    assert "username must be longer than or equal to 4 characters" in weak[2]
    assert "Password is too short (8 characters min)" in weak[2]

    assert cli(["delete-user", "cli-user"], server_env, tmp_path)[0] == 0
    gone = httpx.post(
        app_server.base_url + "/auth/signin", json={"username": "cli-user", "password": PASSWORD}
    )
    assert gone.status_code == 401
    missing = cli(["delete-user", "cli-user"], server_env, tmp_path)
    assert missing[0] == 1 and "no user named 'cli-user'" in missing[2]


def test_probes_metrics_and_one_json_access_line_per_request(
    start_uvicorn: Callable[..., AppProcess], server_env: dict[str, str]
) -> None:
    app_server = start_uvicorn({**server_env, "AUTHKIT_METRICS_TOKEN": METRICS_TOKEN})
    base = app_server.base_url
    assert httpx.get(base + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(base + "/readyz")
    assert (ready.status_code, ready.json()["status"]) == (200, "ok")
    echoed = httpx.get(base + "/auth/me?access_token=abc", headers={"X-Request-ID": "trace-42"})
    assert echoed.status_code == 401 and echoed.headers["x-request-id"] == "trace-42"
    assert httpx.get(base + "/metrics").status_code == 401
    metrics = httpx.get(base + "/metrics", headers=bearer(METRICS_TOKEN))
    assert metrics.status_code == 200
    assert 'authkit_http_requests_total{method="GET",route="/auth/me",status="401"} 1.0' in (
        metrics.text
    )

    def access_line() -> dict[str, object] | None:
        for line in app_server.stderr().splitlines():
            if line.startswith("{") and '"request_id": "trace-42"' in line:
                parsed: dict[str, object] = json.loads(line)
                return parsed
        return None

    assert wait_until(lambda: access_line() is not None, 5), app_server.stderr()
    line = access_line()
    assert line is not None
    assert line["logger"] == "authkit.access" and line["status"] == 401
    assert line["path"] == "/auth/me" and "abc" not in json.dumps(line)


def worker_pids(server: AppProcess) -> set[int]:
    """The pids of uvicorn's worker processes: children of the supervisor process."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == server.process.pid and b"spawn_main" in cmdline:
            pids.add(int(entry.name))
    return pids


def test_two_workers_share_users_tokens_and_throttling(
    launch: Callable[..., AppProcess], server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**server_env, "AUTHKIT_SIGNIN_LIMIT_ACCOUNT": "6/15m"}
    args = ("-m", "authkit", "serve", "--port", "{port}", "--workers", "2")
    server = launch(args, env, cwd=tmp_path)
    assert wait_until(lambda: len(worker_pids(server)) == 2, 20), "two workers did not start"
    base = server.base_url
    credentials = {"username": "shared", "password": PASSWORD}

    assert httpx.post(base + "/auth/signup", json=credentials).status_code == 201
    tokens = []
    for _ in range(12):  # a new connection each time: the kernel spreads them over both workers
        with httpx.Client() as client:
            signin = client.post(base + "/auth/signin", json=credentials)
            assert signin.status_code == 201
            tokens.append(signin.json()["accessToken"])
    for token in tokens:
        with httpx.Client() as client:
            me = client.get(base + "/auth/me", headers=bearer(token))
            assert me.status_code == 200

    with httpx.Client() as client:
        first = client.post(
            base + "/auth/signin", json=credentials, headers={"Authkit-Device": "new"}
        )
    device = {"Authkit-Device": first.headers["authkit-device"]}

    wrong = {"username": "shared", "password": "wrong-pass"}
    statuses = []
    for _ in range(8):
        with httpx.Client() as client:
            statuses.append(client.post(base + "/auth/signin", json=wrong).status_code)
    # Counted in MongoDB, not per worker: the 7th failure is refused whichever worker gets it.
    assert statuses == [401] * 6 + [429] * 2

    # A client that signed in before is not locked out by those failures, whichever worker
    # issued its device token and whichever checks it (both derive the key from JWT_SECRET).
    known = []
    for _ in range(4):
        with httpx.Client() as client:
            known.append(client.post(base + "/auth/signin", json=credentials, headers=device))
    assert [r.status_code for r in known] == [201] * 4
