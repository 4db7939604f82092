"""The observability settings section: logs, access log, metrics."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Choice, Env, Secret

__all__ = ["MIN_METRICS_TOKEN_LENGTH", "ObservabilitySettings"]

# /metrics has no sign-in limit: a token must be too long to guess. `authkit gen-secret`
# prints 64 characters.
MIN_METRICS_TOKEN_LENGTH = 32


def _long_enough(instance: object, attribute: object, value: Secret | None) -> None:
    if value is not None and len(value.value) < MIN_METRICS_TOKEN_LENGTH:
        raise ValueError(
            f"AUTHKIT_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN_LENGTH} characters "
            f"(got {len(value.value)}; `authkit gen-secret` prints one)"
        )


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
            "(the line is about a seventh of `/auth/me`'s instructions, see docs/benchmarks.md)",
        ),
    ] = True
    metrics: Annotated[
        bool,
        Env(
            "AUTHKIT_METRICS",
            "serve Prometheus metrics at `/metrics`, to scrapers that send `AUTHKIT_METRICS_TOKEN`",
        ),
    ] = True
    # Anonymous callers would learn from the counts why a forged token was refused.
    metrics_token: Annotated[
        Secret | None,
        Env(
            "AUTHKIT_METRICS_TOKEN",
            "bearer token `/metrics` asks of scrapers (`Authorization: Bearer ...`), "
            f"{MIN_METRICS_TOKEN_LENGTH} characters or more",
            "(unset: `/metrics` answers 401 to everyone)",
        ),
    ] = attrs.field(default=None, validator=_long_enough)
