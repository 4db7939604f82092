"""The access line: one JSON line (or record) per request, written by the request observer.

As shipped, the line's only destination is authkit's own JSON handler on stderr: handing it
the line skips the LogRecord, the handler chain and the general encoder, and the handler
writes a loop turn's lines together. Any other logging set-up gets the record, as for every
other event; the two lines are the same (tests/unit/test_access_line.py).

Most of a line repeats from one request to the next: the same route answered to the same
method, path and status, for the same user from the same address. Those two parts are kept
as text, each in a small dictionary emptied when full, so a client sending new paths or
addresses costs itself the full formatting and nobody memory; what is left per request is
the time, the duration and the request id.

Example:

    scope = {"method": "GET", "path": "/healthz", "client": ("127.0.0.1", 50000)}
    log_access(scope, "/healthz", 200, 0.0004, "0" * 32)
"""

from __future__ import annotations

import logging
import time

from starlette.types import Scope

from authkit.http.client_address import client_ip_text
from authkit.ops.logs import (
    JSONFormatter,
    clip,
    json_string,
    own_json_string,
    repr_of_round2,
    sole_json_handler,
)

__all__ = ["LOGGED_PATH_LENGTH", "access_log", "log_access"]

access_log = logging.getLogger("authkit.access")
# Far above any path authkit routes; the server lets a client send one of many kilobytes.
LOGGED_PATH_LENGTH = 1024
# The access line's head after its time, up to the message: what JSONFormatter.head writes.
_ACCESS_HEAD = f'"level": "info", "logger": {json_string(access_log.name)}, "message": '
# Enough for every route, method and status a service answers, and for the users and
# addresses of its busiest clients; emptied, not grown, when full.
_KEPT = 1024
# (method, path, status, route) -> the line from the message to the status
_requests: dict[tuple[str, str, int, str], str] = {}
# (user id, client host) -> the line's user_id and client fields, for str or None ids
_whos: dict[tuple[str | None, str | None], str] = {}


def log_access(scope: Scope, route: str, status: int, seconds: float, request_id: str) -> None:
    method, path = scope["method"], scope["path"]
    if len(path) > LOGGED_PATH_LENGTH:
        path = clip(path, LOGGED_PATH_LENGTH)
    user = scope.get("user")
    user_id = user.identity if user is not None and user.is_authenticated else None
    handler = sole_json_handler(access_log, logging.INFO)
    if handler is None:
        _log_record(
            method, path, route, status, seconds, request_id, user_id, client_ip_text(scope)
        )
        return
    fmt: JSONFormatter = handler.formatter  # type: ignore[assignment]
    key = (method, path, status, route)
    request = _requests.get(key)
    if request is None:
        request = _request_text(method, path, status, route)
        if len(_requests) >= _KEPT:
            _requests.clear()
        _requests[key] = request
    if user_id is None or type(user_id) is str:
        client = scope.get("client")
        host = client[0] if client and type(client[0]) is str else None
        who_key = (user_id, host)
        who = _whos.get(who_key)
        if who is None:
            who = _who_text(fmt, user_id, client_ip_text(scope))
            if len(_whos) >= _KEPT:
                _whos.clear()
            _whos[who_key] = who
    else:  # an id of another type: 1 and 1.0 and True are one key and three texts
        who = _who_text(fmt, user_id, client_ip_text(scope))
    # format()'s line for this record, its constant parts written out once.
    handler.write_soon(
        f'{{"time": "{fmt.time_text(time.time())}", {_ACCESS_HEAD}{request}'
        f', "duration_ms": {repr_of_round2(seconds * 1000)}'
        f', "request_id": {own_json_string(request_id)}{who}}}'
    )


def _request_text(method: str, path: str, status: int, route: str) -> str:
    # ASCII without DEL, the usual case, needs only the encoder's escapes.
    plain = path.isascii() and method.isascii() and "\x7f" not in path and "\x7f" not in method
    string = own_json_string if plain else json_string
    return (
        f"{string(f'{method} {path} {status}')}"
        f', "event": "request", "method": {string(method)}'
        f', "path": {string(path)}, "route": {own_json_string(route)}'
        f', "status": {int(status)}'
    )


def _who_text(fmt: JSONFormatter, user_id: object, address: str | None) -> str:
    return f', "user_id": {fmt.json_scalar(user_id)}, "client": {fmt.json_scalar(address)}'


def _log_record(
    method: str,
    path: str,
    route: str,
    status: int,
    seconds: float,
    request_id: str,
    user_id: object,
    address: str | None,
) -> None:
    fields = {
        "event": "request",
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "request_id": request_id,
        "user_id": user_id,
        "client": address,
    }
    # Logger.info() would also walk the stack for the caller's file and line, which no
    # formatter of ours prints. makeRecord() + handle() is info() without that walk.
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %d",
        (method, path, status),
        None,
        extra={"fields": fields},
    )
    access_log.handle(record)
