"""The database going away and coming back while authkit runs (uvicorn process, HTTP).

Each test runs a database of its own (EmbeddedMongo on a fixed port), so stopping
it harms no other test. While it is down, signup and signin answer 503 with a JSON
body within a few seconds and /auth/me keeps answering from the token alone; once it
is back on the same port, authkit recovers without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database
from support.jwt import bearer
from support.processes import AppProcess

from authkit.storage.embedded import EmbeddedMongo, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

ALICE = {"username": "alice", "password": "Passw0rd!x"}
BOB = {"username": "bobby", "password": "Passw0rd!y"}
UNAVAILABLE = {
    "message": "The user database is unavailable; try again shortly",
    "error": "Service Unavailable",
    "statusCode": 503,
}
QUICK = 10.0  # seconds: "a few seconds", never pymongo's default 30


@pytest.fixture
def databases() -> Iterator[list[EmbeddedMongo]]:
    """Databases a test starts; each is stopped at teardown."""
    started: list[EmbeddedMongo] = []
    yield started
    for server in reversed(started):
        server.stop()


def start_db(databases: list[EmbeddedMongo], **kwargs: Any) -> EmbeddedMongo:
    server = EmbeddedMongo(**kwargs)
    databases.append(server)
    server.start()
    return server


def post_until(http: httpx.Client, path: str, body: dict[str, str], timeout: float = 30) -> Any:
    """POST until the answer is no longer 503 (the driver reconnects in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.post(path, json=body)
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_database_going_away_and_coming_back(
    start_uvicorn: Callable[..., AppProcess],
    databases: list[EmbeddedMongo],
    jwt_secret: str,
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "db"
    db = start_db(databases, data_dir=data_dir, log_file=tmp_path / "db.log")
    env = {"MONGO_URI": db.uri, "JWT_SECRET": jwt_secret, "BCRYPT_ROUNDS": "4"}
    server = start_uvicorn(env)

    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert http.post("/auth/signup", json=ALICE).status_code == 201
        token = http.post("/auth/signin", json=ALICE).json()["accessToken"]

        db.stop()

        def timed(path: str, body: dict[str, str]) -> tuple[str, httpx.Response, float]:
            started = time.monotonic()
            response = http.post(path, json=body)
            return path, response, time.monotonic() - started

        with ThreadPoolExecutor(max_workers=2) as pool:
            down = list(pool.map(timed, ["/auth/signup", "/auth/signin"], [BOB, ALICE], timeout=60))
        for path, response, elapsed in down:
            assert response.status_code == 503, (path, response.text)
            assert response.json() == UNAVAILABLE
            assert elapsed < QUICK, f"{path} took {elapsed:.1f} s while the database was down"

        me = http.get("/auth/me", headers=bearer(token))
        assert (me.status_code, me.json()["username"]) == (200, "alice")

        # Back on the same port with the same data; authkit is not restarted.
        start_db(databases, data_dir=data_dir, port=db.port, log_file=tmp_path / "db.log")

        signin = post_until(http, "/auth/signin", ALICE)
        assert signin.status_code == 201, signin.text
        assert http.post("/auth/signup", json=BOB).status_code == 201
        assert http.post("/auth/signup", json=ALICE).status_code == 409
    assert server.process.poll() is None, "authkit died during the outage"


def test_started_before_the_database_serves_once_it_is_up(
    start_uvicorn: Callable[..., AppProcess], databases: list[EmbeddedMongo], jwt_secret: str
) -> None:
    port = free_port()
    uri = f"mongodb://127.0.0.1:{port}/authkit"
    server = start_uvicorn({"MONGO_URI": uri, "JWT_SECRET": jwt_secret, "BCRYPT_ROUNDS": "4"})
    assert "not reachable yet" in server.stderr(), server.stderr()

    start_db(databases, port=port)

    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        signup = post_until(http, "/auth/signup", ALICE)
        assert signup.status_code == 201, signup.text
        assert http.post("/auth/signup", json=ALICE).status_code == 409
        assert http.post("/auth/signin", json=ALICE).status_code == 201
    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        index = client["authkit"]["users"].index_information().get("username_1", {})
    assert index.get("unique") is True


def test_users_collection_dropped_while_running_still_refuses_duplicates(
    app_server: AppProcess, mongo_db: Database[dict[str, Any]]
) -> None:
    # An operator resetting a development database (db.users.drop()) under a running authkit:
    # the unique index goes with the collection, and must come back before the next insert.
    with httpx.Client(base_url=app_server.base_url, timeout=30) as http:
        assert http.post("/auth/signup", json=ALICE).status_code == 201
        mongo_db.drop_collection("users")

        first = http.post("/auth/signup", json=ALICE)
        second = http.post("/auth/signup", json=ALICE)

    assert first.status_code == 201, first.text
    assert second.status_code == 409, "a second user named alice was created"
    assert mongo_db["users"].count_documents({"username": "alice"}) == 1


KNOWN_DOWN_AFTER = 2.5  # seconds after the database dies: the breaker knows by then
KNOWN_DOWN_ANSWER = 1.0  # seconds: a 503 once the breaker knows the database is down
BACK_WITHIN = 2.0  # seconds from the database's return to the first request served again


def test_once_known_down_503s_are_at_once_and_service_resumes_within_two_seconds(
    start_uvicorn: Callable[..., AppProcess],
    databases: list[EmbeddedMongo],
    jwt_secret: str,
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "db"
    db = start_db(databases, data_dir=data_dir, log_file=tmp_path / "db.log")
    env = {"MONGO_URI": db.uri, "JWT_SECRET": jwt_secret, "BCRYPT_ROUNDS": "4"}
    server = start_uvicorn(env)

    def timed(http: httpx.Client, path: str, body: dict[str, str]) -> tuple[int, float]:
        started = time.monotonic()
        status = http.post(path, json=body).status_code
        return status, time.monotonic() - started

    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert http.post("/auth/signup", json=ALICE).status_code == 201
        token = http.post("/auth/signin", json=ALICE).json()["accessToken"]
        db.stop()
        # Usually no request has to find the outage: the driver's heartbeat loses the
        # server at once, and the breaker's probe confirms it within its one-second timeout.
        # Failing that, the first request to find it pays the driver's timeouts.
        time.sleep(KNOWN_DOWN_AFTER)
        for _ in range(5):
            status, first = timed(http, "/auth/signin", ALICE)
            if first < KNOWN_DOWN_ANSWER:
                break
        answers = [
            timed(http, path, body)
            for path, body in [("/auth/signin", ALICE), ("/auth/signup", BOB)] * 5
        ]
        assert [status for status, _ in answers] == [503] * 10
        slowest = max(elapsed for _, elapsed in answers)
        assert slowest < KNOWN_DOWN_ANSWER, f"503s took {[round(e, 2) for _, e in answers]} s"
        me = http.get("/auth/me", headers=bearer(token))
        assert (me.status_code, me.json()["username"]) == (200, "alice")

        start_db(databases, data_dir=data_dir, port=db.port, log_file=tmp_path / "db.log")
        back = time.monotonic()
        for _ in range(100):
            status, _ = timed(http, "/auth/signin", ALICE)
            if status != 503:
                break
            time.sleep(0.05)
        resumed = time.monotonic() - back
        assert status == 201
        assert resumed < BACK_WITHIN, f"served again {resumed:.2f} s after the database returned"
        print(
            f"{KNOWN_DOWN_AFTER} s after the kill, the first 503 took {first:.3f} s; "
            f"once known down, slowest 503 {slowest:.3f} s; "
            f"served again {resumed:.2f} s after the database returned"
        )
    assert server.process.poll() is None
