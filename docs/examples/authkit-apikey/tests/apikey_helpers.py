"""Helpers for authkit-apikey's tests (a module of its own: conftest is not importable by name)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.requests import Request

START = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
SECRET = "apikey-test-secret-0123456789abcdef0123456789"


class Clock:
    """What the key store believes the time is; tests move it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def build_request(
    headers: Sequence[tuple[str, str | bytes]] = (), client: tuple[str, int] | None = None
) -> Request:
    """A GET request with these raw headers (values may be bytes a client could send)."""
    raw = [(k.lower().encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": client or ("198.51.100.4", 50000),
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": raw,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive)
