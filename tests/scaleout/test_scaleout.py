"""Scale-out, the way a deployment runs: two authkit hosts and their database host, each in a
network namespace of the test's own making on one private bridge, nginx in front, traffic
from the root namespace through nginx.

- db: SecantusDB on its own address (a single-node replica set `secantus`);
- a, b: `authkit serve` on their own addresses, MONGO_URI naming the db host with
  `replicaSet`, `w=majority` and `retryWrites`, as docs/deployment.md recommends, and one
  JWT_SECRET between them;
- nginx (the Debian package) in the root namespace, round robin over a and b, as
  docs/deployment.md configures it (tests/support/nginx.py).

While sign-ups stream through nginx: 24 refreshes of one token at once, spread over both
hosts, have one winner; the sign-in limit of an account counts failures made on either
host; a host killed with SIGKILL loses no acknowledged sign-up, nginx moves on to the other
and, once it is started again, sends it traffic again.

Run by `tox -e scaleout` (AUTHKIT_SCALEOUT=1); skipped elsewhere, and where namespaces or
nginx cannot be had (not root, no iproute2, no nginx), with the reason. The figures (time
to move on, time to rejoin) are printed: `tox -e scaleout` shows them (-rP).
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from pymongo import MongoClient
from support.netns import HostProcess, Lan, netns_unavailable, new_prefix
from support.nginx import Nginx, nginx_executable
from support.processes import clean_environ, eventually

pytestmark = pytest.mark.scaleout

OPT_IN = "AUTHKIT_SCALEOUT"
HOST_PORT = 3000
DB_PORT = 27017
PASSWORD = "Passw0rd!x"
ACCOUNT_LIMIT = 5
READY_TIMEOUT = 30.0
TRAFFIC_CLIENTS = 3
TRAFFIC_PAUSE = 0.1  # seconds between one client's sign-ups: a steady stream, not a load test
TRAFFIC_MAX = 5000  # sign-ups per client at most, so that the loop is bounded
SIGN_IN_SAMPLE = 10
DATABASE = "authkit_scaleout"


def unavailable() -> str | None:
    if os.environ.get(OPT_IN) != "1":
        return f"the scale-out run is `tox -e scaleout` (or {OPT_IN}=1 pytest tests/scaleout)"
    if (reason := netns_unavailable()) is not None:
        return f"cannot make network namespaces here: {reason}"
    if nginx_executable() is None:
        return "nginx is not installed (`tox -e scaleout` installs it when run as root)"
    return None


def fresh_user() -> str:
    return "u" + uuid.uuid4().hex[:12]


@attrs.define
class Cluster:
    lan: Lan
    workdir: Path
    env: dict[str, str]
    addresses: dict[str, str]
    servers: dict[str, HostProcess] = attrs.field(factory=dict)
    nginx: Nginx | None = None

    def upstream(self, host: str) -> str:
        return f"{self.addresses[host]}:{HOST_PORT}"

    def url(self, host: str) -> str:
        return f"http://{self.upstream(host)}"

    @property
    def front(self) -> str:
        assert self.nginx is not None
        return self.nginx.base_url

    def start_host(self, host: str) -> HostProcess:
        args = ["-m", "authkit", "serve", "--host", self.addresses[host], "--port", str(HOST_PORT)]
        home = self.workdir / host
        home.mkdir(exist_ok=True)
        server = self.lan.start(host, args, self.env, home, self.workdir / f"{host}.log")
        self.servers[host] = server
        wait_ready(self.url(host) + "/readyz", server)
        return server


def wait_ready(url: str, server: HostProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if not server.alive():
            raise RuntimeError(f"{url}: the server exited:\n{server.output()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not ready after {READY_TIMEOUT:g} s:\n{server.output()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if (reason := unavailable()) is not None:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("scaleout")
    with Lan(new_prefix()) as lan:
        addresses = {name: lan.add_host(name) for name in ("db", "a", "b")}
        uri = (
            f"mongodb://{addresses['db']}:{DB_PORT}/{DATABASE}"
            "?replicaSet=secantus&w=majority&retryWrites=true&readPreference=primary"
        )
        env = clean_environ(
            {
                "MONGO_URI": uri,
                "JWT_SECRET": secrets.token_urlsafe(32),
                "BCRYPT_ROUNDS": "4",
                "AUTHKIT_SIGNIN_LIMIT_ACCOUNT": f"{ACCOUNT_LIMIT}/15m",
                "AUTHKIT_SIGNIN_LIMIT_ADDRESS": "100000/15m",
                # Every client of the test comes from the root namespace's one address.
                "AUTHKIT_SIGNUP_LIMIT_ADDRESS": "off",
                "AUTHKIT_ACCESS_LOG": "false",
                # nginx reaches the hosts from the root namespace's address.
                "AUTHKIT_TRUSTED_PROXIES": lan.root_address,
            }
        )
        database = [
            *("-m", "secantus", "--host", addresses["db"], "--port", str(DB_PORT)),
            *("--storage-path", str(workdir / "db-data")),
        ]
        db = lan.start("db", database, env, workdir, workdir / "db.log")
        cluster = Cluster(lan, workdir, env, addresses)
        try:
            for host in ("a", "b"):
                cluster.start_host(host)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\ndatabase host:\n{db.output()}") from None
        cluster.nginx = Nginx(workdir / "nginx", [cluster.upstream("a"), cluster.upstream("b")])
        try:
            yield cluster
        finally:
            cluster.nginx.stop()


@attrs.frozen
class Outcome:
    sent: float  # time.monotonic() when the request went out
    at: float  # and when its answer came
    username: str
    status: int | str  # the HTTP status, or the transport error's name
    upstream: str  # nginx's X-Upstream: the host(s) that answered


class SignupTraffic:
    """Sign-ups through nginx from a few clients until `stop()`, each answer recorded."""

    def __init__(self, front: str) -> None:
        self.front = front
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(TRAFFIC_CLIENTS)]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        with httpx.Client(base_url=self.front, timeout=10) as http:
            for _ in range(TRAFFIC_MAX):
                if self._stopping.is_set():
                    return
                username, sent = fresh_user(), time.monotonic()
                try:
                    response = http.post(
                        "/auth/signup", json={"username": username, "password": PASSWORD}
                    )
                    status: int | str = response.status_code
                    upstream = response.headers.get("x-upstream", "")
                except httpx.TransportError as exc:
                    status, upstream = type(exc).__name__, ""
                with self._lock:
                    self.outcomes.append(
                        Outcome(sent, time.monotonic(), username, status, upstream)
                    )
                self._stopping.wait(TRAFFIC_PAUSE)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.outcomes)

    def acknowledged(self) -> list[Outcome]:
        return [o for o in self.snapshot() if o.status == 201]

    def failures(self) -> list[Outcome]:
        return [o for o in self.snapshot() if o.status != 201]

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(30)


def assert_all_stored(cluster: Cluster, usernames: list[str]) -> None:
    """Every acknowledged sign-up is in the database, and a sample of them signs in."""
    uri = f"mongodb://{cluster.addresses['db']}:{DB_PORT}/?directConnection=true"
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    with client:
        users = client[DATABASE]["users"]
        stored = {d["username"] for d in users.find({"username": {"$in": usernames}})}
    lost = sorted(set(usernames) - stored)
    assert not lost, f"{len(lost)} of {len(usernames)} acknowledged sign-ups lost: {lost[:5]}"
    with httpx.Client(base_url=cluster.front, timeout=30) as http:
        for username in usernames[:: max(1, len(usernames) // SIGN_IN_SAMPLE)]:
            credentials = {"username": username, "password": PASSWORD}
            signin = http.post("/auth/signin", json=credentials)
            assert signin.status_code == 201, (username, signin.text)


@pytest.fixture
def traffic(cluster: Cluster) -> Iterator[SignupTraffic]:
    """Sign-ups streaming through nginx for the whole test; afterwards none was refused and
    every one is stored."""
    stream = SignupTraffic(cluster.front)
    try:
        eventually(
            lambda: len(stream.acknowledged()) >= 4, timeout=20, what="no sign-up through nginx"
        )
        yield stream
    finally:
        stream.stop()
    assert stream.failures() == []
    assert_all_stored(cluster, [o.username for o in stream.acknowledged()])


def sign_up_and_in(front: str, username: str) -> dict[str, str]:
    credentials = {"username": username, "password": PASSWORD}
    with httpx.Client(base_url=front, timeout=30) as http:
        assert http.post("/auth/signup", json=credentials).status_code == 201
        signin = http.post("/auth/signin", json=credentials)
    assert signin.status_code == 201, signin.text
    pair: dict[str, str] = signin.json()
    return pair


def test_24_refreshes_of_one_token_over_both_hosts_have_one_winner(
    cluster: Cluster, traffic: SignupTraffic
) -> None:
    pair = sign_up_and_in(cluster.front, fresh_user())
    attempts = 24
    barrier = threading.Barrier(attempts)

    def refresh(_: int) -> httpx.Response:
        with httpx.Client(base_url=cluster.front, timeout=30) as http:
            barrier.wait(timeout=30)
            return http.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        responses = list(pool.map(refresh, range(attempts)))

    served_by = {r.headers["x-upstream"] for r in responses}
    assert served_by == {cluster.upstream("a"), cluster.upstream("b")}, served_by
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (attempts - 1), statuses
    (winner,) = [r.json() for r in responses if r.status_code == 200]
    # The winner's pair works on either host: one database, one signing secret.
    for host in ("a", "b"):
        with httpx.Client(base_url=cluster.url(host), timeout=30) as http:
            me = http.get("/auth/me", headers={"Authorization": f"Bearer {winner['accessToken']}"})
            assert me.status_code == 200, (host, me.text)
    with httpx.Client(base_url=cluster.url("b"), timeout=30) as http:
        again = http.post("/auth/refresh", json={"refreshToken": winner["refreshToken"]})
    assert again.status_code == 200, again.text
    print(f"refresh race: 24 refreshes over {sorted(served_by)}: statuses {statuses}")


def test_sign_in_limit_counts_failures_on_both_hosts(
    cluster: Cluster, traffic: SignupTraffic
) -> None:
    username = fresh_user()
    sign_up_and_in(cluster.front, username)
    wrong = {"username": username, "password": "not-the-password"}
    # The failures alternate between the hosts (a, b, a, b, a): neither sees the limit's
    # worth alone. Straight to each host, since round robin among the sign-ups streaming
    # through nginx could put them all on one.
    failed_on = ["a", "b"] * ACCOUNT_LIMIT
    for host in failed_on[:ACCOUNT_LIMIT]:
        with httpx.Client(base_url=cluster.url(host), timeout=30) as http:
            response = http.post("/auth/signin", json=wrong)
        assert response.status_code == 401, (host, response.text)
    right = {"username": username, "password": PASSWORD}
    for base_url in (cluster.url("a"), cluster.url("b"), cluster.front):
        with httpx.Client(base_url=base_url, timeout=30) as http:
            refused = http.post("/auth/signin", json=right)
        assert refused.status_code == 429, (base_url, refused.text)
        assert int(refused.headers["retry-after"]) > 0
    print(f"sign-in limit: {ACCOUNT_LIMIT} failures on a and b in turn; then 429 on a, b, nginx")


def test_a_killed_host_loses_no_acknowledged_signup_and_rejoins(cluster: Cluster) -> None:
    a, b = cluster.upstream("a"), cluster.upstream("b")
    stream = SignupTraffic(cluster.front)
    try:
        eventually(
            lambda: (
                {o.upstream for o in stream.acknowledged()} >= {a, b}
                and len(stream.acknowledged()) >= 20
            ),
            timeout=20,
            what="sign-ups not reaching both hosts",
        )
        cluster.servers["a"].kill()  # returns once it is gone, its sockets closed
        killed_at = time.monotonic()
        # nginx moves on: sign-ups keep being acknowledged, by b.
        eventually(
            lambda: len([o for o in stream.acknowledged() if o.at > killed_at + 1]) >= 20,
            timeout=30,
            what="sign-ups not acknowledged after the kill",
        )
        after = [o for o in stream.snapshot() if o.sent > killed_at]
        assert all(o.upstream.endswith(b) for o in after if o.status == 201)
        # What a user of the service sees of the kill: the longest wait between two
        # acknowledged sign-ups, from the last before it to the first two seconds after.
        times = sorted(o.at for o in stream.acknowledged())
        window = [t for t in times if t <= killed_at][-1:] + [
            t for t in times if killed_at < t < killed_at + 2
        ]
        stall = max(later - earlier for earlier, later in itertools.pairwise(window))

        cluster.start_host("a")
        back_at = time.monotonic()
        # It rejoins: nginx tries it again after fail_timeout, and it serves again.
        eventually(
            lambda: [o for o in stream.acknowledged() if o.at > back_at and o.upstream == a],
            timeout=30,
            what="no sign-up served by the restarted host",
        )
        rejoined = min(o.at for o in stream.acknowledged() if o.at > back_at and o.upstream == a)
    finally:
        stream.stop()

    failures = stream.failures()
    # Only requests in flight on the host as it died may fail (nginx sends a POST that
    # reached a host to no other): each a 502 from nginx; one sent after is never refused.
    assert all(o.status == 502 and o.sent < killed_at for o in failures), failures
    acknowledged = [o.username for o in stream.acknowledged()]
    assert_all_stored(cluster, acknowledged)
    print(
        f"kill/rejoin: {len(acknowledged)} sign-ups acknowledged, all present; "
        f"{len(failures)} failed in flight at the kill; longest wait between two acknowledged "
        f"sign-ups around the kill {stall:.2f} s; the restarted host served again "
        f"{rejoined - back_at:.2f} s after it was ready"
    )
