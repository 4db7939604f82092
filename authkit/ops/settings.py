"""The observability settings section: logs, access log, metrics."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Choice

__all__ = ["ObservabilitySettings"]


@attrs.frozen
class ObservabilitySettings:
    log_format: Annotated[str, Choice(("json", "text"))] = "json"
    log_level: Annotated[str, Choice(("debug", "info", "warning", "error"))] = "info"
    # One line per request; off when a proxy in front already logs every request.
    access_log: bool = True
    metrics: bool = True
