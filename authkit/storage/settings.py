"""The database settings section (MONGO_URI)."""

from __future__ import annotations

import attrs

__all__ = ["DEFAULT_MONGO_URI", "MongoSettings"]

DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27017/authkit"


@attrs.frozen
class MongoSettings:
    # None: no MONGO_URI was given. `authkit serve` then starts the embedded server;
    # a bare `uvicorn app:app` connects to DEFAULT_MONGO_URI.
    uri: str | None = None

    @property
    def effective_uri(self) -> str:
        return self.uri or DEFAULT_MONGO_URI
