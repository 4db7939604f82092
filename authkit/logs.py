"""Log output: one JSON object per line for machines, or readable text for development.

Events carry their data in `extra={"fields": {...}}`; both formats print them
(JSON as keys, text as `key=value` with strings quoted, so a hostile value cannot
forge a line). Nothing here knows what is secret: callers never pass a password,
token, secret or hash in the first place.

Example:

    configure_logging("json", "info")
    logging.getLogger("authkit.security").warning(
        "signin failed", extra={"fields": {"event": "signin_failed", "user": "alice"}}
    )
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any

__all__ = ["JSONFormatter", "TextFormatter", "configure_logging", "fields_of"]


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JSONFormatter(logging.Formatter):
    """One JSON object per record; cheap enough to run once per request.

    The access log writes a line for every request, so this avoids what costs there: a
    JSON encoder built per call (json.dumps with options does that) and a datetime per
    record (the second's text is kept; only the milliseconds change).
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = json.JSONEncoder(ensure_ascii=False, default=str)
        self._second = -1
        self._second_text = ""

    def _time(self, created: float) -> str:
        # As datetime.isoformat(timespec="milliseconds") would: microseconds rounded, then cut.
        second = int(created)
        fraction = round((created - second) * 1_000_000)
        if fraction == 1_000_000:
            second, fraction = second + 1, 0
        if second != self._second:
            stamp = datetime.fromtimestamp(second, tz=timezone.utc)
            self._second, self._second_text = second, stamp.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{fraction // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **fields_of(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(line)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = " ".join(
            f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
            for key, value in fields_of(record).items()
        )
        return f"{text} {pairs}" if pairs else text


def configure_logging(log_format: str, level: str) -> None:
    """Send the `authkit` loggers to stderr in `log_format` ("json" or "text")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    logger = logging.getLogger("authkit")
    logger.handlers = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
