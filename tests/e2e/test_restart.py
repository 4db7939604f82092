"""SIGTERM with requests in flight: they finish, nobody is lost, and a restart keeps tokens.

What `kill`, systemd, Kubernetes and `docker stop` do on every deploy, through a real
uvicorn process and a real MongoDB-protocol server.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pymongo.database import Database
from support.jwt import bearer
from support.processes import AppProcess

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

PASSWORD = "Passw0rd!x"
IN_FLIGHT = 6


def test_sigterm_lets_requests_in_flight_finish_and_a_restart_loses_nothing(
    start_uvicorn: Callable[..., AppProcess],
    server_env: dict[str, str],
    mongo_db: Database[dict[str, Any]],
) -> None:
    # bcrypt at cost 12 takes a few hundred milliseconds a hash: six sign-ups on this
    # machine's cores are still being hashed when the signal arrives.
    env = {**server_env, "BCRYPT_ROUNDS": "12"}
    first = start_uvicorn(env)
    keeper = {"username": "keeper", "password": PASSWORD}
    assert httpx.post(first.base_url + "/auth/signup", json=keeper, timeout=30).status_code == 201
    signin = httpx.post(first.base_url + "/auth/signin", json=keeper, timeout=30)
    token = signin.json()["accessToken"]

    names = [f"inflight{n}" for n in range(IN_FLIGHT)]

    def sign_up(name: str) -> int:
        body = {"username": name, "password": PASSWORD}
        return httpx.post(first.base_url + "/auth/signup", json=body, timeout=30).status_code

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        answers = [pool.submit(sign_up, name) for name in names]
        time.sleep(0.5)  # let the requests reach the server; then stop it under them
        unfinished_at_signal = sum(not answer.done() for answer in answers)
        first.send(signal.SIGTERM)
        statuses = [answer.result() for answer in answers]
    exit_code = first.wait()

    assert unfinished_at_signal > 0, "every sign-up ended before SIGTERM: nothing was tested"
    assert statuses == [201] * IN_FLIGHT, first.stderr()
    # uvicorn finishes its graceful shutdown, then re-raises SIGTERM so that a supervisor
    # sees the signal as the cause of exit (`authkit serve` exits 0: tests/e2e/test_serve.py).
    assert exit_code in (0, -signal.SIGTERM), first.stderr()
    assert "Application shutdown complete." in first.stderr()
    stored = {doc["username"] for doc in mongo_db["users"].find({}, {"username": 1})}
    assert stored == {"keeper", *names}

    second = start_uvicorn(env)
    me = httpx.get(second.base_url + "/auth/me", headers=bearer(token))
    assert me.status_code == 200 and me.json()["username"] == "keeper"
    again = httpx.post(
        second.base_url + "/auth/signin",
        json={"username": names[-1], "password": PASSWORD},
        timeout=30,
    )
    assert again.status_code == 201
