"""authkit.testing, the kit plugin authors test their strategies with.

What they see: requests that behave like a server's (bodies, bytes in headers, client
address), helpers whose failures say what was expected and what came instead, and a
conformance suite that fails, naming the case, for a strategy that crashes on junk, fails
without a challenge, is misnamed, or blocks the event loop; and passes one that does the
same blocking work in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import pytest
from authkit.strategies.local import LocalStrategy
from starlette.authentication import SimpleUser, UnauthenticatedUser
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

import authkit.testing
import authkit.testing.conformance
from authkit.core.errors import (
    AuthenticationFailed,
    BackendUnavailable,
    BadRequest,
    PayloadTooLarge,
    TooManyRequests,
)
from authkit.core.strategy import AuthenticatedUser, Fail, Outcome, Success
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.service import AuthService
from authkit.testing import (
    assert_fail,
    assert_success,
    check_authenticate_is_coroutine,
    check_conformance,
    check_fail_has_challenge,
    check_garbage_never_raises,
    check_name,
    check_no_blocking_io,
    check_valid_request,
    hostile_requests,
    make_request,
    run,
)

CHALLENGE = 'Token realm="test"'
ALICE = AuthenticatedUser("u1", "alice")


class TokenStrategy:
    """A well-behaved strategy: `Authorization: Token good` is alice, anything else fails."""

    name: ClassVar[str] = "token"

    async def authenticate(self, request: Request) -> Outcome:
        if request.headers.get("authorization") == "Token good":
            return Success(ALICE, ("read",))
        return Fail(CHALLENGE)


def good_request() -> Request:
    return make_request(headers={"authorization": "Token good"})


# ------------------------------------------------------------------ make_request and run


@pytest.mark.anyio
async def test_make_request_delivers_a_json_body_and_its_headers() -> None:
    request = make_request("POST", "/auth/signin?next=%2Fhome", json={"username": "alice"})
    assert request.method == "POST"
    assert request.url.path == "/auth/signin"
    assert request.query_params["next"] == "/home"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["content-length"] == str(len(b'{"username": "alice"}'))
    assert await request.json() == {"username": "alice"}
    assert request.client is not None
    assert (request.client.host, request.client.port) == ("203.0.113.7", 50000)


@pytest.mark.anyio
async def test_make_request_form_body_and_explicit_content_type() -> None:
    form = make_request("POST", form=[("a", "1"), ("a", "2")])
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert await form.body() == b"a=1&a=2"
    typed = make_request("POST", body=b"hi", content_type="text/plain")
    assert typed.headers["content-type"] == "text/plain"
    assert await typed.body() == b"hi"
    # A content-type in `headers` wins, so odd ones can be sent as they are.
    odd = make_request("POST", json={}, headers={"Content-Type": "application/json; x=\xff"})
    assert odd.headers.getlist("content-type") == ["application/json; x=\xff"]


@pytest.mark.anyio
async def test_make_request_streams_a_large_body_in_chunks() -> None:
    body = bytes(range(256)) * 1024  # 256 KiB
    request = make_request("POST", body=body)
    chunks = [chunk async for chunk in request.stream()]
    assert len(chunks) > 1
    assert b"".join(chunks) == body


def test_make_request_header_bytes_duplicates_and_no_client() -> None:
    request = make_request(
        headers=[("X-Api-Key", b"\xff\xfe"), ("x-api-key", "second")], client=None
    )
    assert request.headers.getlist("x-api-key") == ["\xff\xfe", "second"]
    assert request.client is None


def test_make_request_sends_text_beyond_latin_1_as_utf_8() -> None:
    request = make_request(headers={"x-forwarded-user": "zoë", "x-note": "5 €"})
    assert request.headers["x-forwarded-user"] == "zoë"
    # What Starlette gives for a client's UTF-8 bytes: each byte as a Latin-1 character.
    assert request.headers["x-note"] == "5 €".encode().decode("latin-1")


def test_make_request_refuses_two_bodies() -> None:
    with pytest.raises(TypeError, match="at most one of json=, form= and body="):
        make_request("POST", json={}, body=b"{}")


@pytest.mark.anyio
async def test_a_body_reading_strategy_works_on_a_made_request(service: AuthService) -> None:
    user = await service.sign_up(SignupCredentials("alice", "Passw0rd!x"))
    local = LocalStrategy(service)
    good = make_request(
        "POST", "/auth/signin", json={"username": "alice", "password": "Passw0rd!x"}
    )
    assert_success(await local.authenticate(good), user_id=user.id, username="alice")
    bad = make_request("POST", "/auth/signin", form={"username": "alice", "password": "nope"})
    assert_fail(await local.authenticate(bad), message="Invalid credentials")


def test_run_returns_the_outcome() -> None:
    assert run(TokenStrategy(), good_request()) == Success(ALICE, ("read",))


@pytest.mark.anyio
async def test_run_inside_a_running_loop_says_to_await_instead() -> None:
    with pytest.raises(RuntimeError, match=r"in async code, `await strategy\.authenticate"):
        run(TokenStrategy(), good_request())
    with pytest.raises(RuntimeError, match="one is running already"):
        check_garbage_never_raises(TokenStrategy())
    assert await TokenStrategy().authenticate(good_request()) == Success(ALICE, ("read",))


def test_run_rejects_an_answer_that_is_not_an_outcome() -> None:
    class Sloppy:
        name: ClassVar[str] = "sloppy"

        async def authenticate(self, request: Request) -> Any:
            return True

    with pytest.raises(AssertionError, match="'sloppy' returned True, not Success or Fail"):
        run(Sloppy(), make_request())


# ------------------------------------------------------------------ assertion helpers


def test_assert_success_returns_the_success_for_chaining() -> None:
    outcome = run(TokenStrategy(), good_request())
    success = assert_success(outcome, user_id="u1", username="alice", scopes=["read"])
    assert success.user is ALICE


def test_assert_success_on_a_fail_shows_the_fail() -> None:
    with pytest.raises(AssertionError) as caught:
        assert_success(Fail(CHALLENGE, "Invalid credentials"))
    assert str(caught.value) == (
        "expected Success, got Fail(challenge='Token realm=\"test\"', "
        "message='Invalid credentials')"
    )


@pytest.mark.parametrize(
    ("expected", "error"),
    [
        ({"user_id": "u2"}, "expected user id 'u2', got 'u1'"),
        ({"username": "bob"}, "expected username 'bob', got 'alice'"),
        (
            {"scopes": ["read", "write"]},
            "expected scopes ['read', 'write'], got ['read'] (missing ['write'], unexpected [])",
        ),
        ({"scopes": []}, "expected scopes [], got ['read'] (missing [], unexpected ['read'])"),
    ],
)
def test_assert_success_names_what_differs(expected: dict[str, Any], error: str) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_success(Success(ALICE, ("read",)), **expected)
    assert str(caught.value).startswith(error)


def test_assert_success_reads_starlette_users_too() -> None:
    assert_success(Success(SimpleUser("carol")), user_id="carol", username="carol")
    with pytest.raises(AssertionError, match="expected user id 'x', got 'carol'"):
        assert_success(Success(SimpleUser("carol")), user_id="x")


def test_assert_fail_returns_the_fail_and_checks_only_what_is_given() -> None:
    fail = Fail(CHALLENGE, "Invalid credentials")
    assert assert_fail(fail) is fail
    assert assert_fail(fail, challenge=CHALLENGE, message="Invalid credentials") is fail
    assert assert_fail(Fail(CHALLENGE), challenge_startswith="Token ", message=None)


@pytest.mark.parametrize(
    ("outcome", "expected", "error"),
    [
        (
            Success(ALICE),
            {},
            "expected Fail, got Success(user=AuthenticatedUser(id='u1', username='alice'), "
            "scopes=())",
        ),
        (
            Fail(CHALLENGE),
            {"challenge": "Basic"},
            "expected challenge 'Basic', got 'Token realm=\"test\"'",
        ),
        (
            Fail(None),
            {"challenge_startswith": "Token"},
            "expected a challenge starting with 'Token', got None",
        ),
        (
            Fail(CHALLENGE, "Invalid credentials"),
            {"message": None},
            "expected message None, got 'Invalid credentials'",
        ),
        (
            Fail(CHALLENGE),
            {"message": "Invalid credentials"},
            "expected message 'Invalid credentials', got None",
        ),
    ],
)
def test_assert_fail_names_what_differs(
    outcome: object, expected: dict[str, Any], error: str
) -> None:
    with pytest.raises(AssertionError) as caught:
        assert_fail(outcome, **expected)
    assert str(caught.value) == error


# ------------------------------------------------------------------ conformance: what it catches


def test_the_conformance_suite_passes_a_well_behaved_strategy() -> None:
    check_conformance(TokenStrategy(), valid_request=good_request)


def test_hostile_requests_cover_the_advertised_kinds() -> None:
    found = hostile_requests()
    labels = " | ".join(found)
    for kind in (
        "no headers",
        "huge Authorization",
        "binary junk",
        "invalid UTF-8 in authorization",
        "Authorization: 'Basic ",
        "Authorization: 'Negotiate ",
        "X-API-Key: ",
        "truncated JSON",
        "form invalid UTF-8",
        "1 MB JSON",
    ):
        assert kind in labels
    assert found["1 MB octet-stream"].headers["content-length"] == str(1024 * 1024)


class RaisesOnGarbage:
    name: ClassVar[str] = "fragile"

    async def authenticate(self, request: Request) -> Outcome:
        _scheme, token = request.headers.get("authorization", "Token none").split(" ")
        return Success(ALICE) if token == "good" else Fail(CHALLENGE)


def test_a_strategy_that_raises_on_garbage_fails_naming_the_requests() -> None:
    with pytest.raises(AssertionError) as caught:
        check_garbage_never_raises(RaisesOnGarbage())
    report = str(caught.value).splitlines()
    assert report[0] == "strategy 'fragile' mishandles hostile requests:"
    assert (
        "  - Authorization: 'Bearer  ': raised ValueError: too many values to unpack (expected 2)"
        in report
    )
    assert "  - no headers: raised" not in str(caught.value)  # what it handles is not listed


def test_a_long_report_is_cut_short() -> None:
    class AlwaysRaises:
        name: ClassVar[str] = "broken"

        async def authenticate(self, request: Request) -> Outcome:
            raise KeyError("authorization")

    with pytest.raises(AssertionError) as caught:
        check_garbage_never_raises(AlwaysRaises())
    report = str(caught.value).splitlines()
    assert report[1] == "  - no headers: raised KeyError: 'authorization'"
    assert len(report) == 22
    assert report[-1] == f"  ... and {len(hostile_requests()) - 20} more hostile requests"


class Raises:
    name: ClassVar[str] = "raising"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def authenticate(self, request: Request) -> Outcome:
        raise self.error


@pytest.mark.parametrize(
    "error", [BadRequest(), PayloadTooLarge(), TooManyRequests(5), BackendUnavailable()]
)
def test_authkit_errors_a_client_should_see_are_accepted(error: Exception) -> None:
    check_garbage_never_raises(Raises(error))


def test_raising_401_instead_of_returning_fail_is_caught() -> None:
    # It would stop the guard's chain: the next strategy would never be tried.
    with pytest.raises(AssertionError) as caught:
        check_garbage_never_raises(Raises(AuthenticationFailed()))
    assert "  - no headers: raised AuthenticationFailed (401); return Fail instead" in str(
        caught.value
    )


def test_a_strategy_that_hangs_is_reported_not_waited_for() -> None:
    class Hangs:
        name: ClassVar[str] = "hangs"

        async def authenticate(self, request: Request) -> Outcome:
            if "authorization" not in request.headers:
                await asyncio.sleep(60)
            return Fail(CHALLENGE)

    started = time.monotonic()
    with pytest.raises(AssertionError) as caught:
        check_garbage_never_raises(Hangs(), timeout=0.01)
    assert "  - no headers: raised AssertionError: no answer within 0.01 s" in str(caught.value)
    assert "Authorization: Basic" not in str(caught.value)
    assert time.monotonic() - started < 30


def test_a_fail_without_a_challenge_is_caught() -> None:
    class NoChallenge:
        name: ClassVar[str] = "nochallenge"

        async def authenticate(self, request: Request) -> Outcome:
            return Fail(CHALLENGE) if "authorization" in request.headers else Fail()

    with pytest.raises(AssertionError) as caught:
        check_fail_has_challenge(NoChallenge())
    report = str(caught.value)
    assert "'nochallenge' fails without a usable WWW-Authenticate challenge" in report
    assert "  - no headers: Fail without a challenge (Fail(challenge=None" in report
    assert "Authorization: Basic" not in report


def test_a_challenge_that_echoes_the_request_is_caught() -> None:
    class Echoes:
        name: ClassVar[str] = "echoes"

        async def authenticate(self, request: Request) -> Outcome:
            return Fail(f'Key realm="{request.headers.get("x-api-key", "")}"')

    with pytest.raises(AssertionError, match="is not a one-line ASCII header value"):
        check_fail_has_challenge(Echoes())


# ---------------------------------------------------------------- conformance: blocking I/O


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    """A TCP port that accepts connections, so connecting would succeed if it were allowed."""
    stop = threading.Event()
    accepted: list[socket.socket] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.05)

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    accepted.append(server.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield server.getsockname()
        stop.set()
        thread.join()
    for conn in accepted:
        conn.close()


@pytest.fixture
def connected(listener: tuple[str, int]) -> Iterator[socket.socket]:
    """A blocking socket connected to `listener` before any check starts."""
    with socket.create_connection(listener, timeout=5) as sock:
        yield sock


def connect(address: tuple[str, int]) -> None:
    with socket.socket() as sock:
        sock.settimeout(5)
        sock.connect(address)


BLOCKING_WORK: dict[str, Callable[[tuple[str, int], socket.socket], object]] = {
    "time.sleep": lambda address, sock: time.sleep(0.001),
    "socket.connect": lambda address, sock: connect(address),
    "socket.getaddrinfo": lambda address, sock: socket.create_connection(address).close(),
    "socket.sendall": lambda address, sock: sock.sendall(b"x"),
}


class BlocksOnTheLoop:
    name: ClassVar[str] = "blocking"

    def __init__(self, work: Callable[[], object]) -> None:
        self.work = work

    async def authenticate(self, request: Request) -> Outcome:
        try:
            self.work()
        except Exception:
            return Fail(CHALLENGE)  # swallowing the kit's error does not hide the call
        return Success(ALICE)


class BlocksInAThread(BlocksOnTheLoop):
    async def authenticate(self, request: Request) -> Outcome:
        await run_in_threadpool(self.work)
        return Success(ALICE)


@pytest.mark.parametrize("what", BLOCKING_WORK)
def test_blocking_calls_on_the_event_loop_are_caught(
    what: str, listener: tuple[str, int], connected: socket.socket
) -> None:
    strategy = BlocksOnTheLoop(lambda: BLOCKING_WORK[what](listener, connected))
    with pytest.raises(AssertionError) as caught:
        check_no_blocking_io(strategy)
    assert str(caught.value) == (
        f"strategy 'blocking' blocks the event loop: it called {what} on the loop's thread; "
        "run blocking work with `await starlette.concurrency.run_in_threadpool(fn, *args)`"
    )


@pytest.mark.parametrize("what", BLOCKING_WORK)
def test_the_same_work_in_a_worker_thread_passes(
    what: str, listener: tuple[str, int], connected: socket.socket
) -> None:
    calls: list[object] = []

    def work() -> None:
        calls.append(BLOCKING_WORK[what](listener, connected))

    check_no_blocking_io(BlocksInAThread(work), good_request())
    # ... and the work really ran, once per request: the worker thread was let through.
    assert len(calls) == len(hostile_requests()) + 2


def test_blocking_only_on_the_valid_request_is_caught() -> None:
    class SleepsWhenValid(TokenStrategy):
        async def authenticate(self, request: Request) -> Outcome:
            outcome = await super().authenticate(request)
            if isinstance(outcome, Success):
                time.sleep(0.001)
            return outcome

    check_no_blocking_io(SleepsWhenValid())  # never valid: nothing to see
    with pytest.raises(AssertionError, match=r"it called time\.sleep on"):
        check_no_blocking_io(SleepsWhenValid(), good_request())


def test_the_blocking_check_puts_everything_back() -> None:
    sleep, getaddrinfo, accept = time.sleep, socket.getaddrinfo, socket.socket.accept
    with pytest.raises(AssertionError):
        check_no_blocking_io(BlocksOnTheLoop(lambda: time.sleep(0.001)))
    assert time.sleep is sleep
    assert socket.getaddrinfo is getaddrinfo
    assert socket.socket.accept is accept
    for method in ("connect", "connect_ex", "send", "sendall", "sendto", "recv", "recv_into"):
        assert method not in vars(socket.socket)


# ---------------------------------------------------------------- conformance: the rest


@pytest.mark.parametrize(
    ("name", "error"),
    [
        (None, "RenamedStrategy.name is None: it must be a class attribute"),
        ("", "RenamedStrategy.name is '': it must"),
        ("Header", "RenamedStrategy.name is 'Header'"),
        ("my header", "RenamedStrategy.name is 'my header'"),
    ],
)
def test_a_bad_name_is_caught(name: str | None, error: str) -> None:
    class RenamedStrategy(TokenStrategy):
        pass

    RenamedStrategy.name = name  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="^" + error):
        check_name(RenamedStrategy())


def test_a_name_set_per_instance_is_caught() -> None:
    class PerInstance(TokenStrategy):
        def __init__(self) -> None:
            self.name = "token"  # type: ignore[misc]

    with pytest.raises(AssertionError, match="sets `name` per instance; use the class"):
        check_name(PerInstance())


class MisnamedStrategy(TokenStrategy):
    """Declared below under the entry point name `tok`, while it calls itself `token`."""


def test_an_entry_point_under_another_name_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    value = f"{__name__}:MisnamedStrategy"

    def entry_points(group: str) -> list[EntryPoint]:
        return [EntryPoint("tok", value, group), EntryPoint("token", f"{__name__}:X", group)]

    monkeypatch.setattr(authkit.testing.conformance, "entry_points", entry_points)
    with pytest.raises(
        AssertionError, match=f"entry point 'tok' .{value}. builds strategy 'token'"
    ):
        check_name(MisnamedStrategy())
    check_name(TokenStrategy())  # same name, another class: not its entry point


def test_a_synchronous_authenticate_is_caught() -> None:
    class Sync:
        name: ClassVar[str] = "sync"

        def authenticate(self, request: Request) -> Outcome:
            return Fail(CHALLENGE)

    with pytest.raises(AssertionError, match=r"Sync\.authenticate must be `async def`"):
        check_authenticate_is_coroutine(Sync())  # type: ignore[arg-type]


def test_a_valid_request_that_fails_is_caught() -> None:
    with pytest.raises(AssertionError, match="expected Success, got Fail"):
        check_valid_request(TokenStrategy(), make_request())


def test_a_valid_request_must_authenticate_unless_told_otherwise() -> None:
    class Anonymous:
        name: ClassVar[str] = "anon"

        async def authenticate(self, request: Request) -> Outcome:
            return Success(UnauthenticatedUser())

    with pytest.raises(AssertionError, match=r"Success\.user\.is_authenticated is False"):
        check_valid_request(Anonymous(), make_request())
    check_valid_request(Anonymous(), make_request(), expect_authenticated=False)


def test_a_success_with_a_string_of_scopes_is_caught() -> None:
    class StrScopes(TokenStrategy):
        async def authenticate(self, request: Request) -> Outcome:
            return Success(ALICE, "admin")  # type: ignore[arg-type]

    # "adm" in "admin" is True: a guard requiring scope "adm" would let this through.
    with pytest.raises(AssertionError, match=r"Success\.scopes is 'admin', not a tuple of str"):
        check_valid_request(StrScopes(), good_request())


def test_check_conformance_lists_every_failed_check() -> None:
    class SleepsAndFailsBare(TokenStrategy):
        async def authenticate(self, request: Request) -> Outcome:
            time.sleep(0.001)
            return Fail()

    with pytest.raises(AssertionError) as caught:
        check_conformance(SleepsAndFailsBare(), valid_request=good_request)
    failed = [line.split("]")[0] for line in str(caught.value).splitlines() if line[:1] == "["]
    assert failed == ["[challenge", "[blocking", "[valid_request"]


# ---------------------------------------------------------------- StrategyConformance under pytest

PLUGIN_TESTS = """
from typing import ClassVar

import pytest
from starlette.requests import Request

from authkit.core.strategy import AuthenticatedUser, Fail, Success
from authkit.testing import StrategyConformance, make_request


class Fine:
    name: ClassVar[str] = "fine"

    async def authenticate(self, request: Request):
        if request.headers.get("x-user"):
            return Success(AuthenticatedUser("1", request.headers["x-user"]))
        return Fail('X realm="x"')


class Careless(Fine):
    async def authenticate(self, request: Request):
        return Fail() if not request.headers.get("x-user") else await super().authenticate(request)


class TestFine(StrategyConformance):
    @pytest.fixture
    def strategy(self) -> Fine:
        return Fine()

    @pytest.fixture
    def valid_request(self) -> Request:
        return make_request(headers={"x-user": "alice"})


class TestCareless(StrategyConformance):
    @pytest.fixture
    def strategy(self) -> Careless:
        return Careless()
"""


def test_subclassing_strategy_conformance_gives_one_named_test_per_check(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_plugin.py").write_text(textwrap.dedent(PLUGIN_TESTS), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-rs", "-W", "error", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    results = sorted(
        " ".join(line.split()[:2])
        for line in done.stdout.splitlines()
        if line.startswith("test_plugin.py::")
    )
    assert results == [
        "test_plugin.py::TestCareless::test_authenticate_is_a_coroutine_function PASSED",
        "test_plugin.py::TestCareless::test_every_fail_has_a_challenge FAILED",
        "test_plugin.py::TestCareless::test_garbage_never_raises PASSED",
        "test_plugin.py::TestCareless::test_name_is_a_registry_key PASSED",
        "test_plugin.py::TestCareless::test_no_blocking_io_on_the_event_loop PASSED",
        "test_plugin.py::TestCareless::test_valid_request_succeeds SKIPPED",
        "test_plugin.py::TestFine::test_authenticate_is_a_coroutine_function PASSED",
        "test_plugin.py::TestFine::test_every_fail_has_a_challenge PASSED",
        "test_plugin.py::TestFine::test_garbage_never_raises PASSED",
        "test_plugin.py::TestFine::test_name_is_a_registry_key PASSED",
        "test_plugin.py::TestFine::test_no_blocking_io_on_the_event_loop PASSED",
        "test_plugin.py::TestFine::test_valid_request_succeeds PASSED",
    ], done.stdout + done.stderr
    assert "no `valid_request` fixture" in done.stdout
    assert "  - no headers: Fail without a challenge" in done.stdout
    assert done.returncode == 1


def test_import_authkit_testing_needs_no_pytest(tmp_path: Path) -> None:
    blocker = "import sys; sys.modules['pytest'] = None; sys.modules['_pytest'] = None\n"
    code = blocker + (
        "from authkit.testing import make_request, run, check_conformance\n"
        "from authkit.strategies.jwt import JWTStrategy\n"
        "from authkit.plugin import TokenIssuer\n"
        "s = JWTStrategy(TokenIssuer('k' * 40, 60))\n"
        "check_conformance(s)\n"
        "print(run(s, make_request()))\n"
    )
    # Run from tmp_path: from the repository root, `python -c` would import the source
    # tree's authkit/ ahead of the installed one (which holds authkit.strategies).
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Fail(challenge='Bearer realm=\"authkit\"', message=None)\n"
