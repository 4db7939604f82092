"""`authkit serve` at its edge, over real sockets: whose X-Forwarded-For it believes, and
what it does with clients that connect and never finish a request."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support.processes import SERVE_ARGS, AppProcess, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

GUESS = {"username": "nobody", "password": "wrong-password"}


def access_clients(server: AppProcess, request_id: str) -> list[Any]:
    lines = (json.loads(line) for line in server.stderr().splitlines() if line.startswith("{"))
    return [
        line["client"]
        for line in lines
        if line.get("event") == "request" and line.get("request_id") == request_id
    ]


def logged_client(server: AppProcess, forwarded_for: str, request_id: str) -> Any:
    headers = {"x-forwarded-for": forwarded_for, "x-request-id": request_id}
    assert httpx.get(server.base_url + "/healthz", headers=headers, timeout=10).status_code == 200
    (client,) = eventually(lambda: access_clients(server, request_id), what="no access line")
    return client


def sign_in_statuses(server: AppProcess, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        return [
            http.post("/auth/signin", json=GUESS, headers={"x-forwarded-for": f}).status_code
            for f in forwarded_for
        ]


def test_forwarded_headers_from_a_local_peer_are_not_believed_by_default(
    launch: Callable[..., AppProcess], server_env: dict[str, str]
) -> None:
    env = {**server_env, "AUTHKIT_SIGNIN_LIMIT_ADDRESS": "2/15m"}
    server = launch(SERVE_ARGS, env)

    # uvicorn's default believes 127.0.0.1; any process on the host could then pick its
    # address, in the log and in the per-address limit.
    assert logged_client(server, "203.0.113.7", "untrusted-1") == "127.0.0.1"
    assert sign_in_statuses(server, ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) == [
        401,
        401,
        429,
    ]


def test_a_named_proxy_is_believed_and_only_an_ip_address_is_taken_from_it(
    launch: Callable[..., AppProcess], server_env: dict[str, str]
) -> None:
    env = {**server_env, "AUTHKIT_SIGNIN_LIMIT_ADDRESS": "2/15m"}
    server = launch([*SERVE_ARGS, "--trusted-proxies", "127.0.0.1"], env)

    assert logged_client(server, "203.0.113.7", "trusted-1") == "203.0.113.7"
    # What the client wrote goes first; the proxy appended the peer it saw: that one counts.
    assert logged_client(server, "6.6.6.6, 203.0.113.8", "trusted-2") == "203.0.113.8"
    assert logged_client(server, 'forged", "user_id": "admin', "trusted-3") is None
    assert sign_in_statuses(server, ["192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"]) == [
        401,
        401,
        429,
        401,
    ]


# The service under a descriptor limit well below the idle connections opened against it.
DESCRIPTORS = 96
IDLE_CONNECTIONS = 120
RECEIVE_TIMEOUT = 1
_LIMITED = (
    "import os, resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_NOFILE, ({DESCRIPTORS}, {DESCRIPTORS}))\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)


def test_connections_that_never_finish_a_request_are_closed_and_the_service_recovers(
    launch: Callable[..., AppProcess], server_env: dict[str, str]
) -> None:
    args = ["-c", _LIMITED, *SERVE_ARGS, "--receive-timeout", str(RECEIVE_TIMEOUT)]
    server = launch(args, server_env)
    idle = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            idle.append(sock)

        # The descriptors are all taken now; within the deadline (and a margin for a
        # loaded machine) they are given back and a new client is answered.
        started = time.monotonic()
        answered = None
        while answered is None and time.monotonic() - started < RECEIVE_TIMEOUT + 9:
            try:
                answered = httpx.get(server.base_url + "/healthz", timeout=2).status_code
            except httpx.TransportError:
                time.sleep(0.2)
        assert answered == 200, server.stderr()[-2000:]

        # ...because every idle connection was closed by the server, not because some were.
        for sock in idle:
            sock.settimeout(5)
            # A reset is a close too: the kernel refused it while the descriptors ran out.
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(1024) == b""
    finally:
        for sock in idle:
            sock.close()
