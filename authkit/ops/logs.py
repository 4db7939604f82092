"""Log output: one JSON object per line for machines, or readable text for development.

Events carry their data in `extra={"fields": {...}}`; both formats print them
(JSON as keys, text as `key=value` with strings quoted). Neither writes a character
that `str.isprintable()` refuses: line breaks (`\n`, U+0085, U+2028), other control
characters and format characters (U+202E, which reverses the text after it in a
terminal) go out as escapes, so a hostile value can neither forge a line nor disguise
one. Nothing here knows what is secret: callers never pass a password, token, secret
or hash in the first place; nor does it bound lengths: callers clip client strings
(`clip`) before they log them.

Example:

    import logging

    configure_logging("json", "info")
    logging.getLogger("authkit.security").warning(
        "signin failed", extra={"fields": {"event": "signin_failed", "user": "alice"}}
    )
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "JSONFormatter",
    "LineStreamHandler",
    "TextFormatter",
    "clip",
    "configure_logging",
    "fields_of",
    "json_string",
    "own_json_string",
    "printable_json",
    "printable_text",
    "repr_of_round2",
    "sole_json_handler",
]


_HEAD_KEYS = frozenset(("time", "level", "logger", "message"))
# What json.JSONEncoder(ensure_ascii=False) writes for a str, quotes included.
_encode_basestring: Callable[[str], str] = json.encoder.encode_basestring


def _json_escape(char: str) -> str:
    code = ord(char)
    if code > 0xFFFF:  # JSON escapes a code point outside the BMP as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def printable_json(encoded: str) -> str:
    """JSON text `encoded`, with each character `str.isprintable()` refuses as a `\\u` escape.

    Every such character of JSON text is inside a string (the structure is printable
    ASCII), where the escape reads back as the same character: the document is unchanged.
    """
    if encoded.isprintable():
        return encoded
    return "".join(c if c.isprintable() else _json_escape(c) for c in encoded)


# The encoder escapes ASCII's control characters but DEL, so its output for ASCII text
# without DEL is printable. isascii() reads a flag and `in` is a memchr, where
# isprintable() looks up every character: the access line's strings take this way.
_DEL = "\x7f"


def json_string(text: str) -> str:
    """`text` as a JSON string, quotes included, with no unprintable character."""
    encoded = _encode_basestring(text)
    if encoded.isascii() and _DEL not in encoded:
        return encoded
    return printable_json(encoded)


# `text` as a JSON string, for text of our own with no unprintable character in it (a
# level, a logger's name, a route template, a request id that passed its check).
own_json_string: Callable[[str], str] = _encode_basestring


def printable_text(text: str) -> str:
    """`text` with backslashes doubled and unprintable characters escaped as Python writes
    them (`\\n`, `\\x85`, `\\u202e`): one physical line, shown as it is."""
    return _unprintable_escaped(text.replace("\\", "\\\\") if "\\" in text else text)


def _unprintable_escaped(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def clip(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and how long it was: what a log line keeps
    of a client's string, so a client cannot make lines (or stored documents) of any size."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text)} characters)"


def repr_of_round2(value: float) -> str:
    """`repr(round(value, 2))` for a finite `value` from 0 to 1e12, at half the cost.

    Both round the float's exact binary value half-even to two decimals; repr then writes
    the shortest text that reads back as that float, which is those two decimals without
    trailing zeros (one zero kept after the point).
    """
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text[-1] == "." else text


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JSONFormatter(logging.Formatter):
    """One JSON object per record; cheap enough to run once per request.

    The access log writes a line for every request, so this avoids what costs there: a
    JSON encoder built per call (json.dumps with options does that) and a datetime per
    record (the second's text is kept, and the millisecond's while it lasts).
    """

    def __init__(self) -> None:
        super().__init__()
        self._encoder = json.JSONEncoder(ensure_ascii=False, default=str)
        self._second: tuple[int, str] = (-1, "")
        self._millisecond: tuple[float, float, str] = (0.0, 0.0, "")

    def time_text(self, created: float) -> str:
        """`created` as the line's `time`: ISO 8601, milliseconds, UTC."""
        # As datetime.isoformat(timespec="milliseconds") would: microseconds rounded, then cut.
        # Under load many lines share a millisecond: a time well inside the last one computed
        # (a microsecond from either edge, far above float error) reuses its text. Each cache
        # is one tuple, replaced whole: threads that log at once never see half of one.
        after, before, text = self._millisecond
        if after < created < before:
            return text
        second = int(created)
        fraction = round((created - second) * 1_000_000)
        if fraction == 1_000_000:
            second, fraction = second + 1, 0
        cached_second, second_text = self._second
        if second != cached_second:
            stamp = datetime.fromtimestamp(second, tz=timezone.utc)
            second_text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, second_text)
        millisecond = fraction // 1000
        text = f"{second_text}.{millisecond:03d}+00:00"
        start = second + millisecond / 1000
        self._millisecond = (start + 1e-6, start + 0.001 - 1e-6, text)
        return text

    def format(self, record: logging.LogRecord) -> str:
        fields = fields_of(record)
        if record.exc_info:
            fields["exception"] = self.formatException(record.exc_info)
        return self.line(record.created, record.levelname, record.name, record.getMessage(), fields)

    def line(
        self, created: float, level_name: str, logger: str, message: str, fields: dict[str, Any]
    ) -> str:
        """The line `format` makes of a record with these attributes and `fields`."""
        if not fields:
            return self.head(created, level_name, logger, message) + "}"
        if _HEAD_KEYS.isdisjoint(fields):
            # The encoder's "{" dropped: the fields continue the head's object.
            head = self.head(created, level_name, logger, message)
            return f"{head}, {printable_json(self._encoder.encode(fields)[1:])}"
        # A field named like a head key replaces its value in place, as a dict merge does.
        return self.encode(
            {
                "time": self.time_text(created),
                "level": level_name.lower(),
                "logger": logger,
                "message": message,
                **fields,
            }
        )

    def head(self, created: float, level_name: str, logger: str, message: str) -> str:
        """The start of a line, up to and without the closing brace: callers that write one
        kind of event often append its fields with `json_scalar` rather than the encoder.
        """
        text = _encode_basestring(message)
        if not text.isascii() or _DEL in text:
            text = printable_json(text)
        level = own_json_string(level_name.lower())
        return (
            f'{{"time": "{self.time_text(created)}", "level": {level}, '
            f'"logger": {own_json_string(logger)}, "message": {text}'
        )

    def json_scalar(self, value: object) -> str:
        """`value` as this formatter's encoder writes it; quick for str, None, int and float."""
        kind = type(value)
        if kind is str:
            encoded = _encode_basestring(value)  # type: ignore[arg-type]
            return encoded if encoded.isascii() and _DEL not in encoded else printable_json(encoded)
        if value is None:
            return "null"
        if kind is int or (kind is float and math.isfinite(value)):  # type: ignore[arg-type]
            return repr(value)
        return self.encode(value)

    def encode(self, value: object) -> str:
        """`value` as JSON text, with no unprintable character."""
        return printable_json(self._encoder.encode(value))


class TextFormatter(logging.Formatter):
    """Readable lines: the message escaped (an access line's message holds the decoded
    path), then the fields as `key=value`, strings quoted by repr. A traceback, written
    by Python about our own code, keeps its lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable_text(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = " ".join(
            f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
            for key, value in fields_of(record).items()
        )
        # repr() escapes what is unprintable in a str; the str() of another type may not.
        return f"{text} {_unprintable_escaped(pairs)}" if pairs else text


class LineStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """authkit's handler: a StreamHandler that also takes lines already formatted (the
    access line of each request) and writes them at the end of the event-loop turn, all
    that turn's lines in one write(). Under load a turn finishes several requests, and a
    write() per line was the dearest part of the line (docs/benchmarks.md).

    Order is kept: a record emitted here, `flush()` and `setStream()` write the waiting
    lines first; `logging.shutdown()` at exit flushes them. A line is late by at most the
    rest of its turn, which on a running server is microseconds.
    """

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._waiting: list[str] = []

    def write_soon(self, line: str) -> None:
        """Write `line` (no newline) when the running event loop's turn ends; at once when
        called outside an event loop.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._waiting.append(line)
            self._write_waiting()
            return
        if not self._waiting:
            loop.call_soon(self._write_waiting)
        self._waiting.append(line)

    def _write_waiting(self, *, flush: bool = True) -> None:
        # Called from the event loop too, where an exception would only reach asyncio's
        # handler: a failing stream is reported as logging reports a failing emit().
        # `flush=False` for callers that flush the stream right after anyway.
        with self.lock or contextlib.nullcontext():
            if not self._waiting:
                return
            lines, self._waiting = self._waiting, []
            try:
                self.stream.write(self.terminator.join(lines) + self.terminator)
                if flush:
                    super().flush()
            except Exception:
                self.handleError(
                    logging.makeLogRecord({"msg": "%d access lines lost", "args": (len(lines),)})
                )

    def flush(self) -> None:
        self._write_waiting(flush=False)
        super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        self._write_waiting(flush=False)
        super().emit(record)


def sole_json_handler(logger: logging.Logger, level: int) -> LineStreamHandler | None:
    """The one handler a `level` record from `logger` reaches, when writing a line to it
    directly is indistinguishable from logging the record: authkit's own LineStreamHandler
    with a JSONFormatter, and no filter on the way that could drop or change the record.

    None otherwise (another handler, a filter, a formatter of the operator's own): the
    caller then logs the record as usual. Checked per call, so reconfiguring logging at
    run time takes effect at once.
    """
    found: LineStreamHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if level < handler.level:
                continue
            if found is not None or handler.filters or type(handler) is not LineStreamHandler:
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    if found is None or type(found.formatter) is not JSONFormatter:
        return None
    return found


def configure_logging(log_format: str, level: str) -> None:
    """Send the `authkit` loggers to stderr in `log_format` ("json" or "text")."""
    handler = LineStreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    logger = logging.getLogger("authkit")
    logger.handlers = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
