"""The observability settings section: logs, access log, metrics."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Choice, Env

__all__ = ["ObservabilitySettings"]


@attrs.frozen
class ObservabilitySettings:
    log_format: Annotated[
        str,
        Choice(("json", "text")),
        Env("AUTHKIT_LOG_FORMAT", "`json` (one object per line) or `text` (for development)"),
    ] = "json"
    log_level: Annotated[
        str,
        Choice(("debug", "info", "warning", "error")),
        Env("AUTHKIT_LOG_LEVEL", "`debug`, `info`, `warning` or `error`"),
    ] = "info"
    access_log: Annotated[
        bool,
        Env(
            "AUTHKIT_ACCESS_LOG",
            "one JSON line per request; `false` when a proxy in front logs requests already "
            "(`/auth/me` then serves about a fifth more, see docs/benchmarks.md)",
        ),
    ] = True
    metrics: Annotated[bool, Env("AUTHKIT_METRICS", "serve Prometheus metrics at `/metrics`")] = (
        True
    )
