"""Log injection (docs/security.md, "Logs"): a client's path or username can neither forge
a log line nor disguise one, in either format, and reaches the logs (and the sign-in
failures collection) only bounded."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import create_app
from authkit.ops.logs import configure_logging
from authkit.ops.observer import LOGGED_PATH_LENGTH
from authkit.passwords.service import MAX_SIGNIN_USERNAME_LENGTH
from authkit.settings.model import ObservabilitySettings

PASSWORD = "password-123"
# Each would start a new line, or hide what follows it, in a log viewer or a terminal.
HOSTILE = {
    "%0A": "\n",
    "%0D": "\r",
    "%0B": "\x0b",
    "%7F": "\x7f",
    "%1B%5B2J": "\x1b[2J",
    "%C2%85": "\x85",
    "%E2%80%A8": "\u2028",
    "%E2%80%A9": "\u2029",
    "%E2%80%AE": "\u202e",
    "%F3%A0%80%81": "\U000e0001",
}
FORGED = "2026-01-01 00:00:00,000 WARNING authkit.security: signin ok user='admin'"


@contextlib.contextmanager
def capture(log_format: str) -> Iterator[io.StringIO]:
    """authkit's loggers as `authkit serve` sets them up in `log_format`, into a StringIO."""
    authkit_logger = logging.getLogger("authkit")
    saved = (authkit_logger.handlers, authkit_logger.level, authkit_logger.propagate)
    configure_logging(log_format, "info")
    stream = io.StringIO()
    handler = authkit_logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.flush()
        authkit_logger.handlers, authkit_logger.level, authkit_logger.propagate = saved


@pytest.fixture(params=["text", "json"])
def output(request: pytest.FixtureRequest) -> Iterator[tuple[str, io.StringIO]]:
    with capture(request.param) as stream:
        yield request.param, stream


def lines_of(stream: io.StringIO) -> list[str]:
    logging.getLogger("authkit").handlers[0].flush()
    # str.splitlines() breaks at every line boundary a viewer might honour, U+2028 included.
    # The app's start-up warning that mail goes to the log (no AUTHKIT_SMTP_URL) is not one
    # of the lines under test.
    return [line for line in stream.getvalue().splitlines() if "authkit.mail" not in line]


@pytest.fixture
def app_client() -> Iterator[TestClient]:
    settings = make_settings(observability=ObservabilitySettings(metrics=False))
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        yield client


def test_a_hostile_path_neither_forges_nor_disguises_a_line(
    output: tuple[str, io.StringIO], app_client: TestClient
) -> None:
    log_format, stream = output
    for encoded in HOSTILE:
        assert app_client.get(f"/x{encoded}{FORGED.replace(' ', '%20')}").status_code == 404

    lines = lines_of(stream)
    assert len(lines) == len(HOSTILE)  # one line per request: none forged
    for line, (encoded, raw) in zip(lines, HOSTILE.items(), strict=True):
        assert line.isprintable(), (encoded, line)
        if log_format == "json":
            assert json.loads(line)["path"] == f"/x{raw}{FORGED}"  # escaped, not lost
        else:
            message = line.split(": ", 1)[1]
            assert message.startswith(f"GET /x{repr(raw)[1:-1]}2026-01-01 ")
            assert f"path={f'/x{raw}{FORGED}'!r}" in line


def test_a_backslash_in_a_text_line_cannot_pass_for_an_escape(app_client: TestClient) -> None:
    with capture("text") as stream:
        app_client.get("/x\\n")
        app_client.get("/x%0A")
        real, lookalike = (line.split(": ", 1)[1].split(" 404 ")[0] for line in lines_of(stream))
    assert real != lookalike


def test_a_long_path_reaches_the_access_line_clipped(
    output: tuple[str, io.StringIO], app_client: TestClient
) -> None:
    _, stream = output
    path = "/" + "a" * 15_000
    assert app_client.get(path).status_code == 404
    (line,) = lines_of(stream)
    assert f"{path[:LOGGED_PATH_LENGTH]}...(15001 characters)" in line
    assert path[: LOGGED_PATH_LENGTH + 1] not in line
    assert len(line) < 3 * LOGGED_PATH_LENGTH  # message and path field, both clipped


def test_an_overlong_sign_in_username_is_neither_stored_nor_logged_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database: Any = mongomock.MongoClient().db
    caplog.set_level(logging.INFO, logger="authkit.security")
    username = "u" * 15_000
    with TestClient(create_app(make_settings(), database=database)) as client:
        refused = client.post("/auth/signin", json={"username": username, "password": PASSWORD})
        longest = "v" * MAX_SIGNIN_USERNAME_LENGTH
        counted = client.post("/auth/signin", json={"username": longest, "password": PASSWORD})

    assert refused.status_code == 401 and refused.json()["message"] == "Invalid credentials"
    assert counted.status_code == 401
    # The failure collection holds the attempt at the longest allowed name, and only that.
    assert [doc["account"] for doc in database.signin_failures.find()] == [longest]
    events = [r.fields for r in caplog.records if r.name == "authkit.security"]  # type: ignore[attr-defined]
    assert [e["reason"] for e in events] == ["username_too_long", "unknown_user"]
    assert len(events[0]["user"]) < 100 and events[0]["user"].startswith("uuu")
    assert "(15000 characters)" in events[0]["user"]
