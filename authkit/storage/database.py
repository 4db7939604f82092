"""The MongoDB boundary: a client whose timeouts turn an outage into a quick 503, not a
hang, and `call_database`, which runs a blocking pymongo call in a worker thread
and turns connection trouble into `BackendUnavailable` (at once, without trying, while
the request's `DatabaseBreaker` knows the database is down).

Example:

    client = open_client("mongodb://db-1,db-2/app?replicaSet=rs0")
    users = client.get_default_database("authkit")["users"]
    client.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pymongo import MongoClient, monitoring
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError
from pymongo.uri_parser import parse_uri
from starlette.concurrency import run_in_threadpool

from authkit.core.errors import BackendUnavailable
from authkit.storage.breaker import current_breaker

__all__ = ["DEFAULT_DATABASE", "call_database", "describe_uri", "open_client"]

logger = logging.getLogger("authkit.database")
T = TypeVar("T")

DEFAULT_DATABASE = "authkit"

# pymongo waits 30 s by default to find a server; a client waiting that long has given up.
# Values in the URI win: an operator who set them meant it.
_TIMEOUTS_MS = {
    "serverSelectionTimeoutMS": 3000,
    "connectTimeoutMS": 3000,
    "timeoutMS": 5000,
}


def open_client(
    uri: str, listeners: Sequence[monitoring.ServerHeartbeatListener] = ()
) -> MongoClient[dict[str, Any]]:
    """A client on `uri` with authkit's timeouts; `listeners` are pymongo event listeners."""
    given = {key.lower() for key in parse_uri(uri)["options"]}
    defaults: dict[str, Any] = {k: v for k, v in _TIMEOUTS_MS.items() if k.lower() not in given}
    return MongoClient(uri, appname="authkit", event_listeners=list(listeners), **defaults)


def describe_uri(uri: str) -> str:
    """Hosts and database of `uri`, without credentials, for logs."""
    parsed = parse_uri(uri)
    hosts = ",".join(f"{host}:{port}" for host, port in parsed["nodelist"])
    return f"{hosts}/{parsed['database'] or DEFAULT_DATABASE}"


async def call_database(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking pymongo call off the event loop; outages become BackendUnavailable (503).

    DuplicateKeyError passes through: it is an answer about the data, not an outage. While
    the request's breaker is open (the database is known down) nothing is tried.
    """
    breaker = current_breaker()
    if breaker is not None and breaker.is_open:
        raise BackendUnavailable()
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except DuplicateKeyError:
        raise
    except PyMongoError as exc:
        logger.error("database call %s failed: %s", getattr(fn, "__name__", fn), type(exc).__name__)
        if breaker is not None and isinstance(exc, ConnectionFailure):
            breaker.suspect()
        raise BackendUnavailable() from exc
