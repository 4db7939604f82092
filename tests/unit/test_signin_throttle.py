"""Failed sign-ins are throttled per account and per address (authkit.throttle).

The store-level tests drive SigninThrottle with a fake clock on mongomock and on a
real MongoDB-protocol server (SecantusDB, or AUTHKIT_TEST_MONGO_URI): both limits
come from one `$or` query, sorted and cut short, whose meaning only a real server
can confirm.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import mongomock
import pytest
from pymongo.collection import Collection
from starlette.testclient import TestClient
from support.clock import Clock
from support.settings import make_settings

import authkit.passwords.throttle
from authkit import create_app
from authkit.core.errors import TooManyRequests
from authkit.passwords.devices import DeviceTokens
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.passwords.slots import AttemptSlots
from authkit.passwords.throttle import Limit, SigninThrottle, ThrottleCheck
from authkit.settings.converter import parse_limit
from authkit.settings.model import SigninLimits
from authkit.users.store import MongoUserStore


class MakeThrottle(Protocol):
    def __call__(
        self, clock: Clock, account: Limit | None, address: Limit | None, device: Limit | None = ...
    ) -> SigninThrottle: ...


@pytest.fixture(params=["mongomock", pytest.param("real server", marks=pytest.mark.integration)])
def failures(request: pytest.FixtureRequest) -> Collection[dict[str, Any]]:
    if request.param == "mongomock":
        return mongomock.MongoClient().db.signin_failures
    return request.getfixturevalue("mongo_db")["signin_failures"]


@pytest.fixture
def make_throttle(failures: Collection[dict[str, Any]]) -> MakeThrottle:
    def make(
        clock: Clock, account: Limit | None, address: Limit | None, device: Limit | None = None
    ) -> SigninThrottle:
        throttle = SigninThrottle(
            failures, per_account=account, per_address=address, per_device=device, clock=clock
        )
        run(throttle.ensure_indexes())
        return throttle

    return make


def run(coro):
    return asyncio.run(coro)


def test_account_is_blocked_after_its_limit_then_released_when_the_window_slides(
    make_throttle: MakeThrottle,
) -> None:
    clock = Clock()
    throttle = make_throttle(clock, Limit(3, 60), None)

    async def scenario() -> list[int | None]:
        seen = []
        for _ in range(3):
            seen.append(await throttle.retry_after("alice", "10.0.0.1"))
            await throttle.record_failure("alice", "10.0.0.1")
            clock.now += 10
        seen.append(await throttle.retry_after("alice", "10.0.0.2"))  # any address
        clock.now += 31  # the first failure (t=0) leaves the 60 s window at t=60
        seen.append(await throttle.retry_after("alice", "10.0.0.1"))
        return seen

    first, second, third, blocked, released = run(scenario())
    assert (first, second, third) == (None, None, None)
    assert blocked == 30  # t=30 now; the oldest counted failure (t=0) expires at t=60
    assert released is None


def test_address_is_blocked_across_accounts(make_throttle: MakeThrottle) -> None:
    clock = Clock()
    throttle = make_throttle(clock, None, Limit(2, 100))

    async def scenario() -> tuple[int | None, int | None]:
        await throttle.record_failure("alice", "10.0.0.9")
        await throttle.record_failure("bob", "10.0.0.9")
        return (
            await throttle.retry_after("carol", "10.0.0.9"),
            await throttle.retry_after("carol", "10.0.0.10"),
        )

    same_address, other_address = run(scenario())
    assert same_address == 100
    assert other_address is None


def test_success_clears_only_that_address_failures_for_that_account(
    make_throttle: MakeThrottle,
) -> None:
    clock = Clock()
    throttle = make_throttle(clock, Limit(3, 600), Limit(50, 600))

    async def scenario() -> tuple[int | None, int | None]:
        await throttle.record_failure("alice", "attacker")
        await throttle.record_failure("alice", "attacker")
        await throttle.record_failure("alice", "home")
        await throttle.record_success("alice", "home")
        after_success = await throttle.retry_after("alice", "home")
        await throttle.record_failure("alice", "attacker")
        return after_success, await throttle.retry_after("alice", "home")

    after_success, after_third_attacker_failure = run(scenario())
    assert after_success is None  # two failures left: under the limit of three
    assert after_third_attacker_failure == 600  # the attacker's failures were not wiped


def test_check_says_whether_a_success_has_failures_to_clear(make_throttle: MakeThrottle) -> None:
    clock = Clock()
    throttle = make_throttle(clock, Limit(5, 600), Limit(50, 600))

    async def scenario() -> list[ThrottleCheck]:
        seen = [await throttle.check("alice", "home")]
        await throttle.record_failure("alice", "elsewhere")
        await throttle.record_failure("bob", "home")
        seen.append(await throttle.check("alice", "home"))
        await throttle.record_failure("alice", "home")
        seen.append(await throttle.check("alice", "home"))
        clock.now += 601  # out of both windows: no longer counted, nothing a success must clear
        seen.append(await throttle.check("alice", "home"))
        return seen

    assert run(scenario()) == [
        ThrottleCheck(retry_after=None, failures_here=False),
        ThrottleCheck(retry_after=None, failures_here=False),
        ThrottleCheck(retry_after=None, failures_here=True),
        ThrottleCheck(retry_after=None, failures_here=False),
    ]


def test_retry_after_is_the_longer_wait_when_newer_failures_of_the_other_limit_crowd_it_out(
    make_throttle: MakeThrottle,
) -> None:
    # Both limits are read with one query cut at 2 + 3 documents, newest first. Here the five
    # newest are the address's, so the cut hides the account's two older failures; their
    # wait (until t=600) is the longer one and must still be the answer.
    clock = Clock()
    throttle = make_throttle(clock, Limit(2, 600), Limit(3, 60))

    async def scenario() -> tuple[int | None, int | None]:
        start = clock.now
        for offset in (0, 10):
            clock.now = start + offset
            await throttle.record_failure("alice", "elsewhere")
        for offset in (100, 110, 120, 130, 140):
            clock.now = start + offset
            await throttle.record_failure(f"user{offset}", "10.0.0.66")
        clock.now = start + 150
        both = await throttle.retry_after("alice", "10.0.0.66")
        return both, await throttle.retry_after("carol", "10.0.0.66")

    both, address_only = run(scenario())
    assert both == 450  # the account's older failure (t=0) leaves its 600 s window at t=600
    assert address_only == 30  # the address's third newest (t=120) leaves its 60 s one at t=180


def test_a_limit_larger_than_one_read_is_still_counted_exactly(make_throttle: MakeThrottle) -> None:
    # A check reads at most 200 failures at once; a limit of 250 needs its own count.
    clock = Clock()
    throttle = make_throttle(clock, Limit(250, 600), None)

    async def scenario() -> tuple[int | None, int | None]:
        start = clock.now
        for offset in range(249):
            clock.now = start + offset
            await throttle.record_failure("alice", f"10.0.{offset // 200}.{offset % 200}")
        clock.now = start + 260
        below = await throttle.retry_after("alice", "10.9.9.9")
        await throttle.record_failure("alice", "10.9.9.9")
        return below, await throttle.retry_after("alice", "10.9.9.9")

    below, reached = run(scenario())
    assert below is None  # 249 of 250
    assert reached == 340  # the oldest of the 250 (t=0) leaves the 600 s window at t=600


def test_limits_off_record_nothing(
    make_throttle: MakeThrottle, failures: Collection[dict[str, Any]]
) -> None:
    clock = Clock()
    throttle = make_throttle(clock, None, None)
    run(throttle.record_failure("alice", "x"))
    assert run(throttle.retry_after("alice", "x")) is None
    assert failures.count_documents({}) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10/15m", Limit(10, 900)), ("3/60", Limit(3, 60)), ("off", None), ("5/1h", Limit(5, 3600))],
)
def test_limit_setting_forms(text: str, expected: Limit | None) -> None:
    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["10", "x/15m", "0/15m", "10/forever", "/15m"])
def test_bad_limit_settings_say_what_they_expect(text: str) -> None:
    with pytest.raises(ValueError, match="expected FAILURES/WINDOW"):
        parse_limit(text)


def test_signin_answers_429_with_retry_after_once_an_account_is_locked() -> None:
    settings = make_settings(
        "t" * 40, signin_limits=SigninLimits(per_account=Limit(3, 900), per_address=None)
    )
    database = mongomock.MongoClient().db
    with TestClient(create_app(settings, database=database)) as client:
        creds = {"username": "alice", "password": "right-password"}
        assert client.post("/auth/signup", json=creds).status_code == 201
        wrong = {"username": "alice", "password": "wrong-password"}
        statuses = [client.post("/auth/signin", json=wrong).status_code for _ in range(3)]
        locked = client.post("/auth/signin", json=creds)  # even the right password waits
        other = client.post("/auth/signin", json={"username": "bob", "password": "whatever1"})

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429
    assert locked.headers["retry-after"].isdigit()
    assert 1 <= int(locked.headers["retry-after"]) <= 900
    assert locked.json() == {
        "message": f"Too many failed sign-in attempts; try again in "
        f"{locked.headers['retry-after']} seconds",
        "error": "Too Many Requests",
        "statusCode": 429,
    }
    assert other.status_code == 401  # another account is not affected
    assert database.signin_failures.count_documents({"account": "alice"}) == 3


def test_a_successful_signin_forgives_that_address_its_earlier_mistypes() -> None:
    settings = make_settings(
        "t" * 40, signin_limits=SigninLimits(per_account=Limit(3, 900), per_address=None)
    )
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        right = {"username": "alice", "password": "right-password"}
        wrong = {"username": "alice", "password": "wrong-password"}
        assert client.post("/auth/signup", json=right).status_code == 201
        statuses = [
            client.post("/auth/signin", json=body).status_code
            for body in (wrong, wrong, right, wrong, wrong, right)
        ]

    # Four failures in the window, but the success in between cleared the first two.
    assert statuses == [401, 401, 201, 401, 401, 201]


class _SlowHasher(PasswordHasher):
    """bcrypt at cost 4, held open long enough that every request is in flight at once."""

    def __init__(self) -> None:
        super().__init__(4)
        self.checked = 0

    async def match(self, password: str, password_hash: str, *, legacy: bool) -> bytes | None:
        self.checked += 1
        await asyncio.sleep(0.05)
        return await super().match(password, password_hash, legacy=legacy)

    async def verify_dummy(self, password: str) -> None:
        self.checked += 1
        await asyncio.sleep(0.05)


def sign_in_at_once(
    throttle: SigninThrottle,
    failures: Collection[dict[str, Any]],
    *rounds: list[str],
    devices: DeviceTokens | None = None,
) -> tuple[list[object], _SlowHasher]:
    """alice (password `right-password`) signed in with each round's passwords all at once,
    round after round: each outcome is her username, None (wrong) or "throttled". With
    `devices`, every attempt presents one device token of hers."""
    hasher = _SlowHasher()
    users = MongoUserStore(failures.database["users"])
    service = AuthService(users, hasher, throttle, devices=devices)
    token: str | None = None

    async def one(password: str) -> object:
        try:
            user = await service.validate_user(
                "alice", password, address="10.0.0.7", device_token=token
            )
        except TooManyRequests:
            return "throttled"
        return None if user is None else user.username

    async def scenario() -> list[object]:
        nonlocal token
        alice = await users.create("alice", await hasher.hash("right-password"))
        token = None if devices is None else devices.issue(alice.id)  # bound to her account
        outcomes: list[object] = []
        for passwords in rounds:
            outcomes += await asyncio.gather(*(one(password) for password in passwords))
        return outcomes

    return run(scenario()), hasher


def test_parallel_guesses_get_no_more_password_checks_than_the_limit(
    make_throttle: MakeThrottle, failures: Collection[dict[str, Any]]
) -> None:
    # 60 guesses at once at an account limited to 10, the right password sent last: the
    # count is written before each check reads, so requests in flight see each other.
    throttle = make_throttle(Clock(), Limit(10, 900), Limit(100, 900))
    guesses = [f"wrong-{n:02d}-pass" for n in range(59)] + ["right-password"]
    outcomes, hasher = sign_in_at_once(throttle, failures, guesses)
    assert hasher.checked <= 10
    assert outcomes[-1] == "throttled"  # the right password came after the limit was spent
    assert outcomes.count("throttled") >= 50
    assert all(outcome in (None, "throttled") for outcome in outcomes)
    assert failures.count_documents({"account": "alice"}) == hasher.checked


def test_an_attempt_refused_or_right_leaves_no_failure_behind(
    make_throttle: MakeThrottle, failures: Collection[dict[str, Any]]
) -> None:
    throttle = make_throttle(Clock(), Limit(2, 900), None)

    async def scenario() -> tuple[int, int]:
        right = await throttle.begin("alice", "home")
        await throttle.succeeded(right)
        after_success = failures.count_documents({})
        for _ in range(2):
            await throttle.begin("alice", "elsewhere")  # two wrong passwords: kept
        refused = await throttle.begin("alice", "home")
        assert refused.check.retry_after is not None
        return after_success, failures.count_documents({})

    assert run(scenario()) == (0, 2)


def test_a_burst_of_right_passwords_for_one_account_all_sign_in(
    make_throttle: MakeThrottle, failures: Collection[dict[str, Any]]
) -> None:
    # 32 sign-ins at once with the right password, the limit 10: attempts in flight fill
    # the limit, not failures, so the rest wait for them instead of getting a 429.
    throttle = make_throttle(Clock(), Limit(10, 900), Limit(100, 900))
    outcomes, _ = sign_in_at_once(throttle, failures, ["right-password"] * 32)
    assert outcomes == ["alice"] * 32
    assert failures.count_documents({}) == 0


def test_wrong_passwords_after_a_burst_still_lock_the_account(
    make_throttle: MakeThrottle, failures: Collection[dict[str, Any]]
) -> None:
    throttle = make_throttle(Clock(), Limit(3, 900), None)
    wrong = [f"wrong-{n}-password" for n in range(8)]
    outcomes, _ = sign_in_at_once(throttle, failures, wrong, ["right-password"])
    assert outcomes.count(None) == 3  # three password checks, all failures
    assert outcomes[-1] == "throttled"  # settled failures: a refusal, no waiting it out
    assert failures.count_documents({"pending": {"$exists": True}}) == 0


def test_attempts_from_many_processes_get_no_more_than_the_limit_past_the_database(
    make_throttle: MakeThrottle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No in-process slots here (begin() alone, as attempts arriving through other
    # processes or hosts would): the count in the database is what holds the limit.
    monkeypatch.setattr(authkit.passwords.throttle, "_WAIT_FOR_IN_FLIGHT", 0.3)
    throttle = make_throttle(Clock(), Limit(10, 900), None)

    async def scenario() -> list[bool]:
        attempts = await asyncio.gather(*(throttle.begin("alice", "x") for _ in range(60)))
        return [a.check.retry_after is None for a in attempts]

    # At most the limit; under contention this heavy some or all are refused with
    # Retry-After: 1 instead (the limit errs towards refusing).
    assert run(scenario()).count(True) <= 10


def test_a_trusted_device_is_counted_apart_from_untrusted_sources(
    make_throttle: MakeThrottle,
) -> None:
    clock = Clock()
    throttle = make_throttle(clock, Limit(3, 600), Limit(3, 600), Limit(3, 600))

    async def scenario() -> list[int | None]:
        start = clock.now
        for _ in range(3):  # a stranger fills both limits for untrusted sources
            await throttle.record_failure("alice", "10.0.0.66")
        seen = [
            await throttle.retry_after("alice", "10.0.0.66"),
            await throttle.retry_after("alice", "10.0.0.66", device="owner-phone"),
        ]
        clock.now = start + 300
        for _ in range(3):  # the phone's own mistakes, from that same address
            await throttle.record_failure("alice", "10.0.0.66", device="owner-phone")
        seen += [
            await throttle.retry_after("alice", "10.0.0.66", device="owner-phone"),
            await throttle.retry_after("alice", "10.0.0.66", device="owner-laptop"),
        ]
        clock.now = start + 600  # the stranger's failures leave the window; the phone's stay
        seen.append(await throttle.retry_after("alice", "10.0.0.66"))
        return seen

    untrusted, phone, phone_after_three, laptop, untrusted_later = run(scenario())
    assert untrusted == 600
    assert phone is None  # the stranger's failures are not the phone's
    assert phone_after_three == 600
    assert laptop is None  # one device's failures are not another's
    assert untrusted_later is None  # nor are the phone's the account's or the address's


def test_parallel_guesses_with_one_device_token_get_no_more_checks_than_its_limit(
    make_throttle: MakeThrottle, failures: Collection[dict[str, Any]]
) -> None:
    # A stolen device token buys its own limit's worth of guesses, written before each
    # check reads, as for untrusted sources; not one more.
    throttle = make_throttle(Clock(), Limit(10, 900), Limit(100, 900), Limit(5, 900))
    devices = DeviceTokens(b"k" * 32, ttl_seconds=3600)
    guesses = [f"wrong-{n:02d}-pass" for n in range(40)]
    outcomes, hasher = sign_in_at_once(throttle, failures, guesses, devices=devices)
    assert hasher.checked <= 5
    assert outcomes.count("throttled") >= 35
    assert failures.count_documents({"device": {"$exists": True}}) == hasher.checked
    assert failures.count_documents({"device": {"$exists": False}}) == 0


def test_a_trusted_device_does_not_wait_behind_a_strangers_attempts_in_flight() -> None:
    slots = AttemptSlots(per_account=1, per_address=1, per_device=1)

    async def scenario() -> tuple[bool, bool]:
        async with slots.hold("alice", "10.0.0.66"):  # the stranger's attempt, in flight
            stranger = asyncio.ensure_future(slots.hold("alice", "10.0.0.67").__aenter__())
            device = asyncio.ensure_future(
                slots.hold("alice", "10.0.0.66", "owner-phone").__aenter__()
            )
            for _ in range(5):
                await asyncio.sleep(0)
            waiting, through = not stranger.done(), device.done()
            stranger.cancel()
            device.cancel()
            return waiting, through

    assert run(scenario()) == (True, True)
