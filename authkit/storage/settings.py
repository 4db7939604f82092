"""The database settings section (MONGO_URI)."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Env

__all__ = ["DEFAULT_MONGO_URI", "MongoSettings"]

DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27017/authkit"


@attrs.frozen
class MongoSettings:
    # None: no MONGO_URI was given. `authkit serve` then starts the embedded server;
    # a bare `uvicorn app:app` connects to DEFAULT_MONGO_URI.
    uri: Annotated[
        str | None,
        Env(
            "MONGO_URI",
            "the database is the one the URI names (`authkit` when it names none)",
            "embedded server (`serve`) / `mongodb://127.0.0.1:27017/authkit`",
        ),
    ] = None

    @property
    def effective_uri(self) -> str:
        return self.uri or DEFAULT_MONGO_URI
