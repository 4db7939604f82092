"""Password work under load (issue #16, item 5): sign-ups limited per address, the queue
of bcrypt work bounded with the excess shed at once (503, Retry-After), and no hash and no
write for a request whose client went away.

Through the whole app on mongomock: TestClient for one request at a time, httpx's ASGI
transport for many at once (its client stays connected until its answer is sent), and a
hand-written ASGI call for a client that hangs up. bcrypt is replaced by a gate the test
opens, so "waiting" means waiting for the test, never for a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import bcrypt
import httpx
import mongomock
import pytest
from starlette.testclient import TestClient
from starlette.types import Message
from support.settings import make_settings

from authkit import create_app
from authkit.core.errors import ClientGone, Overloaded, TooManyRequests
from authkit.passwords.cpu_pool import CPUPool
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import SIGNUP_SHARE, AuthService
from authkit.passwords.signup_limit import SignupLimit
from authkit.passwords.throttle import Limit, SigninThrottle
from authkit.settings.model import PasswordLoad
from authkit.users.store import MongoUserStore

PASSWORD = "Passw0rd!x"
SHED = {
    "message": "Too many sign-ins and sign-ups are waiting; try again shortly",
    "error": "Service Unavailable",
    "statusCode": 503,
}


class Gate:
    """bcrypt.hashpw behind a gate: calls are counted, and wait until the test opens it."""

    def __init__(self) -> None:
        self.calls = 0
        self._open = threading.Event()
        self._real = bcrypt.hashpw

    def open(self) -> None:
        self._open.set()

    def hashpw(self, password: bytes, salt: bytes) -> bytes:
        if password == b"authkit-dummy-password":  # PasswordHasher's own, made at start-up
            return self._real(password, salt)
        self.calls += 1
        self._open.wait(timeout=30)
        return self._real(password, salt)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    monkeypatch.setattr(bcrypt, "hashpw", gate.hashpw)
    yield gate
    gate.open()  # never leave a pool thread waiting


def signup(username: str) -> dict[str, str]:
    return {"username": username, "password": PASSWORD}


# ---------------------------------------------------------------- sign-ups per address


def test_signups_beyond_the_address_limit_get_429_with_retry_after() -> None:
    db = mongomock.MongoClient().db
    settings = make_settings(password_load=PasswordLoad(signup_per_address=Limit(3, 3600)))
    app = create_app(settings, database=db)
    with TestClient(app) as client:
        statuses = [
            client.post("/auth/signup", json=signup(f"user{n}")).status_code for n in range(5)
        ]
        refused = client.post("/auth/signup", json=signup("late1"))
    with TestClient(app, client=("198.51.100.2", 40000)) as elsewhere:
        other = elsewhere.post("/auth/signup", json=signup("other"))

    assert statuses == [201, 201, 201, 429, 429]
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.json() == {
        "message": f"Too many sign-ups from this address; try again in "
        f"{refused.headers['retry-after']} seconds",
        "error": "Too Many Requests",
        "statusCode": 429,
    }
    assert other.status_code == 201, "another address has a count of its own"
    assert sorted(u["username"] for u in db.users.find()) == ["other", "user0", "user1", "user2"]
    # Refused sign-ups are not counted: trying again does not push the wait further out.
    assert db.signup_attempts.count_documents({}) == 4


@pytest.mark.anyio
async def test_parallel_signups_from_one_address_get_no_more_than_the_limit() -> None:
    # Each sign-up writes its count before it reads the others': a burst sees itself, so
    # however many arrive at once, no more than the limit get through (a burst past the
    # limit may get fewer: the count errs towards refusing). A burst of the limit's size
    # gets through whole.
    attempts = mongomock.MongoClient().db.signup_attempts
    limit = SignupLimit(attempts, Limit(5, 3600))

    async def one(address: str) -> bool:
        try:
            await limit.begin(address)
        except TooManyRequests:
            return False
        return True

    burst = await asyncio.gather(*(one("203.0.113.50") for _ in range(40)))
    exactly = await asyncio.gather(*(one("203.0.113.51") for _ in range(5)))
    assert sum(burst) <= 5
    assert attempts.count_documents({"address": "203.0.113.50"}) == sum(burst)
    assert all(exactly)


def test_signup_limit_off_lets_every_signup_through() -> None:
    settings = make_settings(password_load=PasswordLoad(signup_per_address=None))
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        statuses = {
            client.post("/auth/signup", json=signup(f"u{n:03d}")).status_code for n in range(40)
        }
    assert statuses == {201}


# ---------------------------------------------------------------- the bounded queue


@pytest.mark.anyio
async def test_password_work_beyond_the_queue_is_shed_at_once_with_503(gate: Gate) -> None:
    db = mongomock.MongoClient().db
    settings = make_settings(
        password_load=PasswordLoad(signup_per_address=None, queue_per_thread=1)
    )
    app = create_app(settings, database=db)
    # One place hashing and one waiting per thread, of which sign-ups may hold half.
    capacity = max(1, int(2 * CPUPool().threads * SIGNUP_SHARE))
    extra = 3
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        tasks = [
            asyncio.ensure_future(http.post("/auth/signup", json=signup(f"user{n:02d}")))
            for n in range(capacity + extra)
        ]
        # The gate is shut: only shed requests can finish. They do, without it opening.
        for _ in range(1000):
            if sum(t.done() for t in tasks) >= extra:
                break
            await asyncio.sleep(0.01)
        shed = [t.result() for t in tasks if t.done()]
        waiting = [t for t in tasks if not t.done()]
        gate.open()
        served = [await t for t in waiting]

    assert [(r.status_code, r.json()) for r in shed] == [(503, SHED)] * extra
    assert {r.headers["retry-after"] for r in shed} == {"1"}
    statuses = sorted(r.status_code for r in served)
    assert statuses.count(201) == capacity, statuses
    assert db.users.count_documents({}) == capacity
    assert gate.calls == capacity, "a shed sign-up hashed nothing"


@pytest.mark.anyio
async def test_a_shed_signin_leaves_no_attempt_behind_to_count_as_a_failure() -> None:
    db = mongomock.MongoClient().db
    hasher = PasswordHasher(4, pool=CPUPool(threads=1, max_waiting=0))
    throttle = SigninThrottle(
        db.signin_failures, per_account=Limit(10, 900), per_address=Limit(100, 900)
    )
    service = AuthService(MongoUserStore(db.users), hasher, throttle)
    await service.sign_up(SignupCredentials("alice", PASSWORD))

    async with places_held(hasher.pool, 1):  # another request holds the only place
        with pytest.raises(Overloaded) as shed:
            await service.validate_user("alice", "wrong-password", address="10.0.0.9")
    assert shed.value.headers == {"Retry-After": "1"}
    assert db.signin_failures.count_documents({}) == 0
    # The place is free again: the next attempt is checked as usual.
    assert await service.validate_user("alice", PASSWORD, address="10.0.0.9") is not None


@pytest.mark.anyio
async def test_a_throttled_signin_is_refused_with_429_even_while_the_queue_is_full() -> None:
    # The throttle answers before any place in the queue is taken: clients refused with
    # 429, however many at once, cannot fill the queue and shed everyone else with 503.
    db = mongomock.MongoClient().db
    hasher = PasswordHasher(4, pool=CPUPool(threads=1, max_waiting=0))
    throttle = SigninThrottle(
        db.signin_failures, per_account=Limit(2, 900), per_address=Limit(100, 900)
    )
    service = AuthService(MongoUserStore(db.users), hasher, throttle)
    await service.sign_up(SignupCredentials("alice", PASSWORD))
    for _ in range(2):
        assert await service.validate_user("alice", "wrong-password") is None

    async with places_held(hasher.pool, 1):
        with pytest.raises(TooManyRequests):
            await service.validate_user("alice", "wrong-password")


@pytest.mark.anyio
async def test_a_signup_over_its_limit_is_refused_with_429_even_while_the_queue_is_full() -> None:
    db = mongomock.MongoClient().db
    hasher = PasswordHasher(4, pool=CPUPool(threads=1, max_waiting=3))
    limit = SignupLimit(db.signup_attempts, Limit(1, 3600))
    service = AuthService(MongoUserStore(db.users), hasher, signup_limit=limit)
    await service.sign_up(SignupCredentials("alice", PASSWORD), address="10.0.0.9")

    async with places_held(hasher.pool, 4):
        with pytest.raises(TooManyRequests):
            await service.sign_up(SignupCredentials("bobby", PASSWORD), address="10.0.0.9")
        # A shed sign-up from elsewhere is uncounted: that address keeps its allowance.
        with pytest.raises(Overloaded):
            await service.sign_up(SignupCredentials("carol", PASSWORD), address="10.0.0.7")
    assert db.signup_attempts.count_documents({"address": "10.0.0.7"}) == 0


@pytest.mark.anyio
async def test_a_flood_of_signups_leaves_room_in_the_queue_for_signins() -> None:
    db = mongomock.MongoClient().db
    hasher = PasswordHasher(4, pool=CPUPool(threads=1, max_waiting=3))  # four places
    service = AuthService(MongoUserStore(db.users), hasher)
    await service.sign_up(SignupCredentials("alice", PASSWORD))

    async with places_held(hasher.pool, 2):  # two sign-ups in the queue: their half
        with pytest.raises(Overloaded):
            await service.sign_up(SignupCredentials("flood", PASSWORD))
        assert await service.validate_user("alice", PASSWORD) is not None
    assert db.users.count_documents({"username": "flood"}) == 0


@pytest.mark.anyio
@pytest.mark.parametrize(("max_waiting", "held", "shed"), [(2, 3, True), (None, 50, False)])
async def test_a_pool_sheds_only_beyond_its_bound(
    max_waiting: int | None, held: int, shed: bool
) -> None:
    pool = CPUPool(threads=1, max_waiting=max_waiting)
    async with places_held(pool, held):
        assert pool.places_taken == held
        if shed:
            with pytest.raises(Overloaded):
                await pool.run(int, "1")
        else:
            assert await pool.run(int, "1") == 1
    assert pool.places_taken == 0
    pool.close()


@contextlib.asynccontextmanager
async def places_held(pool: CPUPool, count: int) -> AsyncIterator[None]:
    """`count` other requests (tasks) holding a place in `pool` meanwhile."""
    release = asyncio.Event()
    holding = asyncio.Semaphore(0)

    async def hold() -> None:
        with pool.reserve():
            holding.release()
            await release.wait()

    holders = [asyncio.ensure_future(hold()) for _ in range(count)]
    for _ in range(count):
        await holding.acquire()
    try:
        yield
    finally:
        release.set()
        await asyncio.gather(*holders)


# ---------------------------------------------------------------- clients that went away


async def call(
    app: Any,
    body: dict[str, str] | None,
    receive_after_body: Callable[[], Any],
    path: str = "/auth/signup",
) -> list[Message]:
    """POST `path` as a raw ASGI call; after the body (None: none is sent, as if the client
    hung up before it), `receive` is `receive_after_body`."""
    sent_body = body is None

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        return await receive_after_body()  # type: ignore[no-any-return]

    answers: list[Message] = []

    async def send(message: Message) -> None:
        answers.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("203.0.113.60", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", b"48"),
            (b"host", b"testserver"),
        ],
    }
    await app(scope, receive, send)
    return answers


@pytest.mark.anyio
async def test_a_signup_whose_client_hung_up_costs_no_hash_and_writes_nothing(
    gate: Gate,
) -> None:
    gate.open()
    db = mongomock.MongoClient().db
    app = create_app(make_settings(), database=db)

    async def hung_up() -> Message:
        return {"type": "http.disconnect"}

    await call(app, signup("ghost"), hung_up)
    assert gate.calls == 0
    assert db.users.count_documents({}) == 0
    assert db.signup_attempts.count_documents({}) == 0


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["/auth/signup", "/auth/signin"])
async def test_a_client_that_hangs_up_before_its_body_is_in_is_no_server_error(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(), database=mongomock.MongoClient().db)

    async def hung_up() -> Message:
        return {"type": "http.disconnect"}

    answers = await call(app, None, hung_up, path=path)
    assert answers[0]["status"] == 499  # what nginx logs for it; nobody reads it
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


@pytest.mark.anyio
async def test_a_signup_whose_client_leaves_while_it_waits_for_bcrypt_is_dropped(
    gate: Gate,
) -> None:
    # The only bcrypt thread is busy; the client gives up while its sign-up waits for it.
    db = mongomock.MongoClient().db
    pool = CPUPool(threads=1, max_waiting=4)
    limit = SignupLimit(db.signup_attempts, Limit(30, 3600))
    service = AuthService(
        MongoUserStore(db.users), PasswordHasher(4, pool=pool), signup_limit=limit
    )
    busy = asyncio.ensure_future(pool.run(gate.hashpw, b"someone else", bcrypt.gensalt(4)))
    left = asyncio.Event()

    class Leaving:
        async def gone(self) -> None:
            await left.wait()

        async def has_gone(self) -> bool:
            return left.is_set()

    signing_up = asyncio.ensure_future(
        service.sign_up(SignupCredentials("ghost", PASSWORD), client=Leaving())
    )
    for _ in range(1000):
        if db.signup_attempts.count_documents({}) == 1:  # it has reached the queue
            break
        await asyncio.sleep(0.01)
    left.set()
    with pytest.raises(ClientGone):
        await signing_up
    gate.open()
    await busy
    assert gate.calls == 1, "only the busy thread's own work was hashed"
    assert db.users.count_documents({}) == 0
    assert db.signup_attempts.count_documents({}) == 0, "its count was taken back"


@pytest.mark.anyio
async def test_a_signup_whose_client_left_during_its_hash_writes_no_account() -> None:
    db = mongomock.MongoClient().db
    service = AuthService(MongoUserStore(db.users), PasswordHasher(4))
    checks = []

    class LeavesDuringTheHash:
        async def gone(self) -> None:
            await asyncio.Event().wait()

        async def has_gone(self) -> bool:
            checks.append(True)
            return len(checks) > 1  # there before the hash, gone after it

    with pytest.raises(ClientGone):
        await service.sign_up(SignupCredentials("ghost", PASSWORD), client=LeavesDuringTheHash())
    assert db.users.count_documents({}) == 0


def test_a_client_that_stays_gets_its_account(client: Any) -> None:
    assert client.post("/auth/signup", json=signup("stays")).status_code == 201
