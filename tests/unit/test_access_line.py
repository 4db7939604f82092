"""The access line written straight to authkit's JSON handler is the line `logging` would
have written; anything else in the logging set-up gets the record as usual; the lines of
one event-loop turn go out together, in order with the records around them."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from authkit.ops.logs import (
    JSONFormatter,
    LineStreamHandler,
    configure_logging,
    repr_of_round2,
    sole_json_handler,
)
from authkit.ops.observer import RequestObserver

TIME = re.compile(r'^\{"time": "[^"]+", ')


@pytest.fixture
def json_handler() -> Iterator[logging.StreamHandler[Any]]:
    """authkit's loggers as `authkit serve` sets them up, writing to a StringIO."""
    authkit_logger = logging.getLogger("authkit")
    saved = (authkit_logger.handlers, authkit_logger.level, authkit_logger.propagate)
    configure_logging("json", "info")
    handler = authkit_logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(io.StringIO())
    try:
        yield handler
    finally:
        authkit_logger.handlers, authkit_logger.level, authkit_logger.propagate = saved


def written(handler: logging.StreamHandler[Any]) -> list[str]:
    handler.flush()  # the lines a request's event-loop turn left waiting
    stream = handler.stream
    lines: list[str] = stream.getvalue().split("\n")[:-1]  # not splitlines(): U+0085 is data
    stream.seek(0)
    stream.truncate()
    return lines


def without_time(line: str) -> str:
    assert TIME.match(line), line
    return TIME.sub("{", line)


class PassAll(logging.Filter):
    """A filter that changes nothing: only its presence sends records through logging."""


def log_both_ways(handler: logging.StreamHandler[Any], *args: Any) -> tuple[str, str]:
    RequestObserver._log_access(*args)
    handler.addFilter(PassAll())
    try:
        assert sole_json_handler(logging.getLogger("authkit.access"), logging.INFO) is None
        RequestObserver._log_access(*args)
    finally:
        handler.filters.clear()
    direct, through_logging = written(handler)
    return direct, through_logging


class User:
    def __init__(self, identity: Any) -> None:
        self.identity = identity
        self.is_authenticated = True


# One handler for all examples is right: each example reads and empties its stream.
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.text(min_size=1, max_size=10),
    path=st.text(max_size=40),
    status=st.sampled_from([200, 201, 401, 404, 500]),
    seconds=st.floats(min_value=0, max_value=100, allow_nan=False),
    user_id=st.none() | st.text(max_size=30) | st.integers(),
    client=st.none() | st.tuples(st.text(max_size=20), st.integers(0, 65535)),
)
def test_the_direct_line_is_the_line_logging_writes(
    json_handler: logging.StreamHandler[Any],
    method: str,
    path: str,
    status: int,
    seconds: float,
    user_id: Any,
    client: Any,
) -> None:
    scope = {"method": method, "path": path, "client": client}
    if user_id is not None:
        scope["user"] = User(user_id)
    direct, through_logging = log_both_ways(
        json_handler, scope, "/auth/me", status, seconds, "req-1"
    )
    assert without_time(direct) == without_time(through_logging)
    fields = json.loads(direct)
    assert (fields["method"], fields["path"], fields["status"]) == (method, path, status)
    assert fields["user_id"] == user_id and fields["message"] == f"{method} {path} {status}"


def test_an_operators_handler_and_filter_on_the_access_logger_see_every_request(
    json_handler: logging.StreamHandler[Any], client: TestClient
) -> None:
    seen: list[logging.LogRecord] = []
    access = logging.getLogger("authkit.access")
    extra = logging.Handler()
    extra.emit = seen.append  # type: ignore[method-assign]
    access.addHandler(extra)
    try:
        client.get("/healthz")
        client.get("/nope")
    finally:
        access.removeHandler(extra)
    assert [r.fields["status"] for r in seen] == [200, 404]  # type: ignore[attr-defined]
    # The access lines: the app's start-up may log too (no SMTP server: mail goes to the log).
    lines = [json.loads(line) for line in written(json_handler)]
    lines = [line for line in lines if line["logger"] == "authkit.access"]
    assert [(line["path"], line["status"]) for line in lines] == [("/healthz", 200), ("/nope", 404)]


def test_a_stream_that_fails_costs_the_line_not_the_request(
    json_handler: logging.StreamHandler[Any], client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    json_handler.setStream(Broken())
    assert client.get("/healthz").status_code == 200
    json_handler.flush()  # the line may still wait for the end of its event-loop turn
    # logging's own error report, on stderr, as for any handler whose stream fails
    assert "OSError: disk full" in capsys.readouterr().err


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_a_turns_lines_go_out_together_when_the_turn_ends() -> None:
    stream = CountingStream()
    handler = LineStreamHandler(stream)

    async def one_turn_then_the_next() -> None:
        handler.write_soon("first")
        handler.write_soon("second")
        assert stream.writes == []  # nothing yet: the turn has not ended
        await asyncio.sleep(0)
        assert stream.writes == ["first\nsecond\n"]
        handler.write_soon("third")
        await asyncio.sleep(0)

    asyncio.run(one_turn_then_the_next())
    assert stream.writes == ["first\nsecond\n", "third\n"]


def test_records_and_waiting_lines_keep_their_order() -> None:
    stream = CountingStream()
    handler = LineStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.makeLogRecord({"msg": "an event"})

    async def line_then_record() -> None:
        handler.write_soon("a line")
        handler.handle(record)
        handler.write_soon("after")

    asyncio.run(line_then_record())
    assert stream.getvalue() == "a line\nan event\nafter\n"


def test_outside_an_event_loop_and_at_exit_nothing_waits() -> None:
    stream = CountingStream()
    handler = LineStreamHandler(stream)
    handler.write_soon("no loop")
    assert stream.getvalue() == "no loop\n"

    # asyncio's own loop, whatever policy an earlier test left behind (uvicorn 0.31 installs
    # uvloop's, whose stop() runs the turn's last callbacks: the line is written, not lost).
    loop = asyncio.SelectorEventLoop()

    def the_last_turn() -> None:
        handler.write_soon("at exit")
        loop.stop()

    loop.call_soon(the_last_turn)
    loop.run_forever()
    loop.close()  # the loop stopped before the turn's write could run
    assert stream.getvalue() == "no loop\n"
    logging.shutdown([lambda: handler])  # what the interpreter does at exit
    assert stream.getvalue() == "no loop\nat exit\n"


def test_a_field_named_like_a_head_key_replaces_it_as_before() -> None:
    record = logging.LogRecord("authkit", logging.INFO, __file__, 1, "hello", None, None)
    record.fields = {"message": "overridden", "n": 1}
    assert json.loads(JSONFormatter().format(record))["message"] == "overridden"
    assert list(json.loads(JSONFormatter().format(record))) == [
        "time",
        "level",
        "logger",
        "message",
        "n",
    ]


@settings(max_examples=300, deadline=None)
@given(
    start=st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False),
    steps=st.lists(
        st.sampled_from([0.0, 1e-7, 5e-7, 1e-6, 4e-4, 5e-4, 9.99e-4, 1e-3, 0.25, 1.0]),
        max_size=20,
    ),
)
def test_line_times_are_datetimes_isoformat_to_the_millisecond(
    start: float, steps: list[float]
) -> None:
    formatter = JSONFormatter()  # one formatter for the whole sequence: its caches in play
    created = start
    for step in steps:
        created += step
        record = logging.makeLogRecord({"name": "authkit", "msg": "m"})
        record.created = created
        expected = datetime.fromtimestamp(created, tz=timezone.utc).isoformat(
            timespec="milliseconds"
        )
        assert json.loads(formatter.format(record))["time"] == expected, created


@given(st.floats(min_value=0, max_value=1e12) | st.integers(0, 10**6).map(lambda n: n / 1000))
def test_repr_of_round2_is_repr_of_round(value: float) -> None:
    assert repr_of_round2(value) == repr(round(value, 2))
