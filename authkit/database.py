"""Opening the MongoDB client with timeouts that turn an outage into a quick 503, not a hang.

Example:

    client = open_client("mongodb://db-1,db-2/app?replicaSet=rs0")
    users = client.get_default_database("authkit")["users"]
"""

from __future__ import annotations

from typing import Any

from pymongo import MongoClient
from pymongo.uri_parser import parse_uri

__all__ = ["DEFAULT_DATABASE", "describe_uri", "open_client"]

DEFAULT_DATABASE = "authkit"

# pymongo waits 30 s by default to find a server; a client waiting that long has given up.
# Values in the URI win: an operator who set them meant it.
_TIMEOUTS_MS = {
    "serverSelectionTimeoutMS": 3000,
    "connectTimeoutMS": 3000,
    "timeoutMS": 5000,
}


def open_client(uri: str) -> MongoClient[dict[str, Any]]:
    given = {key.lower() for key in parse_uri(uri)["options"]}
    defaults: dict[str, Any] = {k: v for k, v in _TIMEOUTS_MS.items() if k.lower() not in given}
    return MongoClient(uri, appname="authkit", **defaults)


def describe_uri(uri: str) -> str:
    """Hosts and database of `uri`, without credentials, for logs."""
    parsed = parse_uri(uri)
    hosts = ",".join(f"{host}:{port}" for host, port in parsed["nodelist"])
    return f"{hosts}/{parsed['database'] or DEFAULT_DATABASE}"
