"""The conformance suite every strategy must pass: hostile requests, no blocking I/O on the
event loop, a name usable everywhere, challenges on failure (`StrategyConformance`)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import inspect
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.authentication import BaseUser
from starlette.requests import Request

from authkit.core.errors import HTTPError
from authkit.core.registry import ENTRY_POINT_GROUP
from authkit.core.strategy import Fail, Strategy, Success

if TYPE_CHECKING:
    import pytest

from authkit.testing.fake_requests import _in_a_fresh_loop, _name, assert_success, make_request, run

__all__ = [
    "ALLOWED_ERROR_STATUSES",
    "BlockingCallOnEventLoop",
    "StrategyConformance",
    "check_authenticate_is_coroutine",
    "check_conformance",
    "check_fail_has_challenge",
    "check_garbage_never_raises",
    "check_name",
    "check_no_blocking_io",
    "check_valid_request",
    "hostile_requests",
]

# What a strategy may raise instead of returning: the guard renders these as they are.
# 401/403 are not here: raising them stops the chain, so later strategies never get a say.
ALLOWED_ERROR_STATUSES = frozenset({400, 413, 415, 429, 503})
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")  # OpenAPI allows [a-zA-Z0-9._-] in scheme keys


_SCHEMES = "Basic Bearer Digest Negotiate NTLM HOBA Mutual DPoP GNAP PrivateToken Token ApiKey"
_JUNK = ("", " ", "=", "!!!", "a.b.c", "Og==", "//46/w==", "\t", "é", "{}", "x" * 10000)
# What HTTP/1.1 and HTTP/2 let through in a header value: no NUL, CR or LF.
_HEADER_BYTES = bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100)) + b"\t"
_ONE_MB = 1024 * 1024


def _short(text: str) -> str:
    return repr(text) if len(text) <= 24 else f"{text[:16]!r}... ({len(text)} chars)"


def hostile_requests() -> dict[str, Request]:
    """Fresh requests no strategy may crash on, by description (a request's body reads once)."""
    junk_b64 = base64.b64encode(bytes(range(256))).decode()
    found: dict[str, Request] = {
        "no headers": make_request(),
        "no headers, no client address": make_request("POST", client=None),
        "odd method and junk query": make_request("BREW", "/?%ff%fe=%00&access_token=%"),
        "huge Authorization": make_request(headers={"authorization": "Bearer " + "A" * 65536}),
        "huge Cookie and X-API-Key": make_request(
            headers={"cookie": "s=" + "x" * 65536, "x-api-key": "k" * 65536}
        ),
        "a thousand headers": make_request(headers=[(f"x-junk-{i}", "1") for i in range(1000)]),
        "binary junk in headers": make_request(
            headers=[(n, _HEADER_BYTES) for n in ("authorization", "x-api-key", "cookie")]
        ),
        "Authorization twice": make_request(
            headers=[("authorization", "Bearer x"), ("authorization", "Basic Og==")]
        ),
        "binary junk body": make_request("POST", body=bytes(range(256)) * 64),
    }
    for name in ("authorization", "x-api-key", "cookie", "x-forwarded-user", "host"):
        found[f"invalid UTF-8 in {name}"] = make_request(headers=[(name, b"Bearer \xff\xfe\xc3(")])
    for scheme in _SCHEMES.split():
        for junk in (*_JUNK, junk_b64):
            found[f"Authorization: {_short(f'{scheme} {junk}')}"] = make_request(
                headers={"authorization": f"{scheme} {junk}"}
            )
    for junk in (*_JUNK, "null", "' OR 1=1 --", "${jndi:ldap://x/a}"):
        found[f"X-API-Key: {_short(junk)}"] = make_request(headers={"x-api-key": junk})
        found[f"X-Forwarded-User: {_short(junk)}"] = make_request(
            headers={"x-forwarded-user": junk}
        )
    bodies: dict[str, tuple[str, bytes]] = {
        "truncated JSON": ("application/json", b'{"username": '),
        "JSON array": ("application/json", b'["alice", "pw"]'),
        "JSON null": ("application/json", b"null"),
        "JSON operators": ("application/json", b'{"username": {"$ne": null}, "password": {}}'),
        "JSON nested 100000 deep": ("application/json", b"[" * 100000),
        "JSON huge integer": ("application/json", b'{"username": ' + b"9" * 10000 + b"}"),
        "JSON NaN": ("application/json", b'{"username": NaN, "password": Infinity}'),
        "JSON invalid UTF-8": ("application/json", b'{"username": "\xff\xfe"}'),
        "JSON lone surrogate": ("application/json", b'{"username": "\\ud800"}'),
        "JSON content type, empty body": ("application/json", b""),
        "JSON charset junk": ("application/json; charset=\xff", b"{}"),
        "form escapes": ("application/x-www-form-urlencoded", b"%zz=%%&&==&a=%ff&username[$ne]="),
        "form invalid UTF-8": ("application/x-www-form-urlencoded", b"username=\xff&password=\xfe"),
        "form 10000 fields": ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 10000)),
        "multipart without boundary": ("multipart/form-data", b"--x\r\n\r\njunk"),
        "multipart junk": ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: \xff"),
        "1 MB JSON": ("application/json", b'{"username": "' + b"a" * _ONE_MB + b'"}'),
        "1 MB form": ("application/x-www-form-urlencoded", b"username=" + b"a" * _ONE_MB),
        "1 MB octet-stream": ("application/octet-stream", b"\x00" * _ONE_MB),
    }
    for label, (ctype, raw) in bodies.items():
        found[label] = make_request("POST", body=raw, content_type=ctype)
    for length in ("-1", "abc", "10", "99999999999"):
        found[f"Content-Length: {length}"] = make_request(
            "POST", headers={"content-length": length}, json={"username": "a" * 1000}
        )
    return found


class BlockingCallOnEventLoop(RuntimeError):
    """Raised inside a strategy that blocks the event loop while `check_no_blocking_io` runs."""


@contextlib.contextmanager
def _forbid_blocking(loop_thread: int, seen: list[str]) -> Iterator[None]:
    def blocks_on_socket(args: tuple[Any, ...]) -> bool:  # asyncio's own sockets never block
        return bool(args) and isinstance(args[0], socket.socket) and args[0].gettimeout() != 0.0

    targets: list[tuple[Any, str, Callable[[tuple[Any, ...]], bool]]] = [
        (time, "sleep", lambda args: True),
        (socket, "getaddrinfo", lambda args: True),
        *[(socket.socket, a, blocks_on_socket) for a in ("connect", "connect_ex", "accept")],
        *[(socket.socket, a, blocks_on_socket) for a in ("send", "sendall", "sendto")],
        *[(socket.socket, a, blocks_on_socket) for a in ("recv", "recv_into", "recvfrom")],
    ]
    saved = [(owner, attr, owner.__dict__.get(attr)) for owner, attr, _ in targets]

    def forbid(original: Callable[..., Any], what: str, blocking: Callable[..., bool]) -> Any:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread and blocking(args):
                seen.append(what)
                raise BlockingCallOnEventLoop(f"{what}() called on the event loop's thread")
            return original(*args, **kwargs)

        return wrapper

    for owner, attr, blocking in targets:
        setattr(owner, attr, forbid(getattr(owner, attr), f"{owner.__name__}.{attr}", blocking))
    try:
        yield
    finally:
        for owner, attr, original in reversed(saved):
            if original is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)


def _outcomes(
    strategy: Strategy, requests: Mapping[str, Request], timeout: float
) -> dict[str, object]:
    async def one(request: Request) -> object:
        try:
            return await asyncio.wait_for(strategy.authenticate(request), timeout)
        except asyncio.TimeoutError:
            return AssertionError(f"no answer within {timeout} s")
        except Exception as exc:
            return exc

    async def every() -> dict[str, object]:
        return {label: await one(request) for label, request in requests.items()}

    return _in_a_fresh_loop(every)


def _problem(result: object) -> str | None:
    """What is wrong with one answer to a hostile request, or None when it is acceptable."""
    if isinstance(result, HTTPError):
        if result.status_code in ALLOWED_ERROR_STATUSES:
            return None
        return f"raised {type(result).__name__} ({result.status_code}); return Fail instead"
    if isinstance(result, Exception):
        return f"raised {type(result).__name__}: {str(result)[:200]}"
    if isinstance(result, Success):
        if not isinstance(result.user, BaseUser):
            return f"Success.user is {result.user!r}, not a starlette BaseUser"
        if not isinstance(result.scopes, tuple) or not all(
            isinstance(s, str) for s in result.scopes
        ):
            return f"Success.scopes is {result.scopes!r}, not a tuple of str"
        return None
    return None if isinstance(result, Fail) else f"returned {result!r}, not Success or Fail"


def _report(strategy: Strategy, what: str, problems: Mapping[str, str]) -> None:
    if problems:
        lines = [f"  - {label}: {problem}" for label, problem in problems.items()]
        if len(lines) > 20:
            lines[20:] = [f"  ... and {len(lines) - 20} more hostile requests"]
        raise AssertionError(f"strategy {_name(strategy)!r} {what}:\n" + "\n".join(lines))


def check_garbage_never_raises(strategy: Strategy, *, timeout: float = 10.0) -> None:
    """Every hostile request gets Success or Fail (or an HTTPError in ALLOWED_ERROR_STATUSES)."""
    results = _outcomes(strategy, hostile_requests(), timeout)
    problems = {label: p for label, r in results.items() if (p := _problem(r)) is not None}
    _report(strategy, "mishandles hostile requests", problems)


def check_fail_has_challenge(strategy: Strategy, *, timeout: float = 10.0) -> None:
    """Every Fail names a challenge fit for a WWW-Authenticate header."""
    problems: dict[str, str] = {}
    for label, result in _outcomes(strategy, hostile_requests(), timeout).items():
        if isinstance(result, Fail):
            challenge = result.challenge
            if not isinstance(challenge, str) or not challenge.strip():
                problems[label] = f"Fail without a challenge ({result!r})"
            elif "\r" in challenge or "\n" in challenge or not challenge.isascii():
                problems[label] = f"challenge {challenge!r} is not a one-line ASCII header value"
    _report(strategy, "fails without a usable WWW-Authenticate challenge", problems)


def check_name(strategy: Strategy) -> None:
    """`name` is a lowercase class attribute, the key the registry and entry points use."""
    name = getattr(type(strategy), "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AssertionError(
            f"{type(strategy).__name__}.name is {name!r}: it must be a class attribute "
            "(name: ClassVar[str] = 'header'), lowercase letters, digits, '.', '_' or '-'"
        )
    if "name" in getattr(strategy, "__dict__", {}):
        raise AssertionError(f"{type(strategy).__name__} sets `name` per instance; use the class")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        loaded = None
        if ep.attr == type(strategy).__name__ and ep.name != name:
            with contextlib.suppress(Exception):  # a broken plugin is not this strategy's fault
                loaded = ep.load()
        if loaded is type(strategy):
            raise AssertionError(
                f"entry point {ep.name!r} ({ep.value}) builds strategy {name!r}: the registry "
                "refuses to start unless the entry point's name is the strategy's name"
            )


def check_no_blocking_io(
    strategy: Strategy, valid_request: Request | None = None, *, timeout: float = 10.0
) -> None:
    """No time.sleep, DNS lookup or blocking socket call on the event loop's thread.

    Calls from worker threads (`await starlette.concurrency.run_in_threadpool(fn)`) are fine.
    A function imported before the check (`from time import sleep`) escapes it.
    """
    requests = {"no credentials": make_request(), **hostile_requests()}
    if valid_request is not None:
        requests = {"valid_request": valid_request, **requests}
    seen: list[str] = []
    with _forbid_blocking(threading.get_ident(), seen):
        _outcomes(strategy, requests, timeout)
    if seen:
        raise AssertionError(
            f"strategy {_name(strategy)!r} blocks the event loop: it called "
            f"{', '.join(dict.fromkeys(seen))} on the loop's thread; run blocking work with "
            "`await starlette.concurrency.run_in_threadpool(fn, *args)`"
        )


def check_valid_request(
    strategy: Strategy, valid_request: Request, *, expect_authenticated: bool = True
) -> None:
    """`valid_request` succeeds with a starlette BaseUser (authenticated, unless told not)."""
    outcome = run(strategy, valid_request)
    success = assert_success(outcome)
    problem = _problem(success)
    if problem is None and success.user.is_authenticated is not expect_authenticated:
        problem = f"Success.user.is_authenticated is {success.user.is_authenticated!r}"
    if problem is not None:
        raise AssertionError(f"strategy {_name(strategy)!r}, valid_request: {problem}")


def check_authenticate_is_coroutine(strategy: Strategy) -> None:
    if not inspect.iscoroutinefunction(strategy.authenticate):
        raise AssertionError(
            f"{type(strategy).__name__}.authenticate must be `async def`; the guard awaits it"
        )


def check_conformance(
    strategy: Strategy,
    *,
    valid_request: Callable[[], Request] | None = None,
    expect_authenticated: bool = True,
    timeout: float = 10.0,
) -> None:
    """Every conformance check; one AssertionError lists each that failed.

    check_conformance(HeaderStrategy(), valid_request=lambda: make_request(...))
    """
    checks: dict[str, Callable[[], None]] = {
        "garbage": lambda: check_garbage_never_raises(strategy, timeout=timeout),
        "challenge": lambda: check_fail_has_challenge(strategy, timeout=timeout),
        "name": lambda: check_name(strategy),
        "coroutine": lambda: check_authenticate_is_coroutine(strategy),
        "blocking": lambda: check_no_blocking_io(
            strategy, valid_request() if valid_request else None, timeout=timeout
        ),
    }
    if valid_request is not None:
        checks["valid_request"] = lambda: check_valid_request(
            strategy, valid_request(), expect_authenticated=expect_authenticated
        )
    failed = []
    for label, check in checks.items():
        try:
            check()
        except AssertionError as exc:
            failed.append(f"[{label}] {exc}")
    if failed:
        raise AssertionError("\n".join(failed))


def _valid_request_fixture(request: pytest.FixtureRequest) -> Request | None:
    import pytest

    try:
        value: Request = request.getfixturevalue("valid_request")
    except pytest.FixtureLookupError:
        return None
    return value


class StrategyConformance:
    """Subclass as `Test...` and give a `strategy` fixture (and, better, `valid_request`).

    Each check is its own test, so a failure names what is wrong. Set
    `expect_authenticated = False` for a strategy whose Success is deliberately
    anonymous (authkit's `anonymous`).
    """

    expect_authenticated: ClassVar[bool] = True
    timeout: ClassVar[float] = 10.0

    def test_garbage_never_raises(self, strategy: Strategy) -> None:
        check_garbage_never_raises(strategy, timeout=self.timeout)

    def test_every_fail_has_a_challenge(self, strategy: Strategy) -> None:
        check_fail_has_challenge(strategy, timeout=self.timeout)

    def test_name_is_a_registry_key(self, strategy: Strategy) -> None:
        check_name(strategy)

    def test_no_blocking_io_on_the_event_loop(
        self, strategy: Strategy, request: pytest.FixtureRequest
    ) -> None:
        check_no_blocking_io(strategy, _valid_request_fixture(request), timeout=self.timeout)

    def test_valid_request_succeeds(
        self, strategy: Strategy, request: pytest.FixtureRequest
    ) -> None:
        import pytest

        valid = _valid_request_fixture(request)
        if valid is None:
            pytest.skip("no `valid_request` fixture: give one to check that a good request passes")
        check_valid_request(strategy, valid, expect_authenticated=self.expect_authenticated)

    def test_authenticate_is_a_coroutine_function(self, strategy: Strategy) -> None:
        check_authenticate_is_coroutine(strategy)
