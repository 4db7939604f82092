"""The HTTP settings sections: where the server listens, body size, CORS."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Range

__all__ = ["CORSSettings", "ServerSettings"]


@attrs.frozen
class ServerSettings:
    host: str = "127.0.0.1"
    port: Annotated[int, Range(1, 65535)] = 3000
    max_body_bytes: Annotated[int, Range(256, 64 * 1024 * 1024)] = 16 * 1024


@attrs.frozen
class CORSSettings:
    """Browser access from other origins; off (no origins) by default."""

    origins: tuple[str, ...] = ()
    allow_credentials: bool = False
