"""Fake requests for strategies: build them, run a strategy, check what it returned."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json as jsonlib
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import anyio
from starlette.authentication import BaseUser
from starlette.requests import Request
from starlette.types import Message

from authkit.core.strategy import Fail, Outcome, Strategy, Success

if TYPE_CHECKING:
    pass

__all__ = ["assert_fail", "assert_success", "make_request", "run"]

T = TypeVar("T")
Headers = Mapping[str, str | bytes] | Iterable[tuple[str | bytes, str | bytes]]


class _Unset(enum.Enum):
    UNSET = enum.auto()


def _bytes(value: str | bytes) -> bytes:
    """Header text as a client sends it: Latin-1 when it fits, UTF-8 bytes otherwise."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def make_request(
    method: str = "GET",
    path: str = "/",
    headers: Headers | None = None,
    json: Any = None,
    form: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    client: tuple[str, int] | None = ("203.0.113.7", 50000),
    disconnected: bool = False,
) -> Request:
    """A Starlette Request as an ASGI server hands it over; its body arrives through `receive`.

    Give at most one of `json`, `form` (both set their content type) or raw `body`.
    `content_type` replaces the default one; a content-type in `headers` wins over both.
    Header values may be bytes (anything a client can send); text that is not Latin-1 is
    sent as UTF-8, as clients do. `path` may carry `?query`; `client=None` means no peer.
    Once the body is read the client stays connected, as a real one waiting for its answer
    does; `disconnected=True` makes it one that hung up (`http.disconnect`) after sending it.

        make_request("POST", "/auth/signin", json={"username": "alice", "password": "pw"})
        make_request(headers=[("authorization", b"Bearer \\xff")], client=None)
    """
    if sum(x is not None for x in (json, form, body)) > 1:
        raise TypeError("give at most one of json=, form= and body=")
    default_type = None
    if json is not None:
        body, default_type = jsonlib.dumps(json).encode(), "application/json"
    elif form is not None:
        body, default_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    raw = [(_bytes(k).lower(), _bytes(v)) for k, v in pairs]
    names = {k for k, _ in raw}
    if b"content-type" not in names and (content_type or default_type):
        raw.append((b"content-type", _bytes(content_type or default_type or "")))
    if body and b"content-length" not in names:
        raw.append((b"content-length", str(len(body)).encode()))
    chunks = [(body or b"")[i : i + 65536] for i in range(0, len(body or b""), 65536)] or [b""]

    async def receive() -> Message:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        if not disconnected:
            await anyio.sleep_forever()  # as a server does until the client goes
        return {"type": "http.disconnect"}

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": client,
        "root_path": "",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "query_string": query.encode("utf-8"),
        "headers": raw,
    }
    return Request(scope, receive)


def _checked(strategy: Strategy, outcome: object) -> Outcome:
    if not isinstance(outcome, (Success, Fail)):
        raise AssertionError(
            f"strategy {_name(strategy)!r} returned {outcome!r}, not Success or Fail"
        )
    return outcome


def _name(strategy: Strategy) -> str:
    return str(getattr(strategy, "name", type(strategy).__name__))


def run(strategy: Strategy, request: Request) -> Outcome:
    """`strategy.authenticate(request)` in a fresh event loop (in async tests, await it instead).

    outcome = run(JWTStrategy(issuer), make_request(headers={"authorization": "Bearer x"}))
    """
    return _checked(strategy, _in_a_fresh_loop(lambda: strategy.authenticate(request)))


def _in_a_fresh_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    raise RuntimeError(
        "authkit.testing starts its own event loop, and one is running already: "
        "in async code, `await strategy.authenticate(request)` instead"
    )


def _user_attr(user: BaseUser, *names: str) -> Any:
    for name in names:
        with contextlib.suppress(AttributeError, NotImplementedError):
            return getattr(user, name)
    return None


def assert_success(
    outcome: object,
    *,
    user_id: str | None = None,
    username: str | None = None,
    scopes: Iterable[str] | None = None,
) -> Success:
    """Check `outcome` is a Success (with this user id, username and scopes, when given).

    user = assert_success(run(strategy, request), username="alice").user
    """
    if not isinstance(outcome, Success):
        raise AssertionError(f"expected Success, got {outcome!r}")
    found_id = _user_attr(outcome.user, "id", "identity")
    if user_id is not None and found_id != user_id:
        raise AssertionError(f"expected user id {user_id!r}, got {found_id!r} ({outcome.user!r})")
    found_name = _user_attr(outcome.user, "display_name", "username")
    if username is not None and found_name != username:
        raise AssertionError(f"expected username {username!r}, got {found_name!r}")
    if scopes is not None and set(scopes) != set(outcome.scopes):
        wanted = sorted(set(scopes))
        missing = sorted(set(scopes) - set(outcome.scopes))
        extra = sorted(set(outcome.scopes) - set(scopes))
        raise AssertionError(
            f"expected scopes {wanted}, got {list(outcome.scopes)} (missing {missing}, "
            f"unexpected {extra})"
        )
    return outcome


def assert_fail(
    outcome: object,
    *,
    challenge: str | None = None,
    challenge_startswith: str | None = None,
    message: str | _Unset | None = _Unset.UNSET,
) -> Fail:
    """Check `outcome` is a Fail; `message=None` checks for the bare 401 "Unauthorized".

    assert_fail(outcome, challenge='Bearer realm="authkit"', message=None)
    """
    if not isinstance(outcome, Fail):
        raise AssertionError(f"expected Fail, got {outcome!r}")
    if challenge is not None and outcome.challenge != challenge:
        raise AssertionError(f"expected challenge {challenge!r}, got {outcome.challenge!r}")
    if challenge_startswith is not None and not (outcome.challenge or "").startswith(
        challenge_startswith
    ):
        raise AssertionError(
            f"expected a challenge starting with {challenge_startswith!r}, "
            f"got {outcome.challenge!r}"
        )
    if not isinstance(message, _Unset) and outcome.message != message:
        raise AssertionError(f"expected message {message!r}, got {outcome.message!r}")
    return outcome
