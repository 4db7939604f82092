"""Text -> settings: a cattrs converter whose hooks read what an operator writes.

Every hook raises `ValueError` with a sentence that says what was expected;
loader.py puts the variable's name in front of it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import cattrs

from authkit.http.client_address import ProxyNetworks, parse_networks
from authkit.passwords.throttle import Limit
from authkit.settings.model import Choice, Range, Secret

__all__ = ["make_converter", "parse_duration", "parse_limit"]

# The forms @nestjs/jwt (through vercel/ms) accepts for expiresIn, e.g. "60s", "15m",
# "1.5h", "2 days". A bare number is seconds: every env value is text, and "60" meaning
# 60 ms (ms's reading of a unit-less string) would surprise everyone.
_DURATION = re.compile(
    r"^\s*(?P<n>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>"
    r"ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|"
    r"d|days?|w|weeks?|y|yrs?|years?)?\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {
    "ms": 0.001,
    "msec": 0.001,
    "millisecond": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
    "y": 31557600,
    "yr": 31557600,
    "year": 31557600,
}


def parse_duration(text: object) -> timedelta:
    expected = "expected a duration such as 60s, 15m, 1h, 7d or a number of seconds"
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(expected)
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{expected} (got {text!r})")
    unit = (match["unit"] or "s").lower()
    singular = unit if unit in _UNIT_SECONDS else unit.rstrip("s")
    seconds = float(match["n"]) * _UNIT_SECONDS[singular]
    if seconds < 1:
        raise ValueError(
            f"expected at least 1 second: JWT times have 1-second resolution (got {text!r})"
        )
    return timedelta(seconds=int(seconds))


def parse_optional_duration(text: object) -> timedelta | None:
    """A duration as parse_duration reads it, or `off`."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("off", "none")):
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; or off") from None


def parse_limit(text: object) -> Limit | None:
    """`10/15m` (10 failures per 15 minutes), or `off`."""
    if isinstance(text, Limit) or text is None:
        return text
    expected = "expected FAILURES/WINDOW such as 10/15m, or off"
    if not isinstance(text, str):
        raise ValueError(expected)
    if text.strip().lower() in ("off", "none", "0"):
        return None
    count, slash, window = text.partition("/")
    if not slash or not count.strip().isdigit() or int(count) < 1:
        raise ValueError(f"{expected} (got {text!r})")
    try:
        seconds = parse_duration(window)
    except ValueError:
        raise ValueError(f"{expected} (got {text!r})") from None
    return Limit(int(count), int(seconds.total_seconds()))


def _structure_int(value: object, bounds: Range | None) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number (got {value!r})")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number (got {value!r})") from None
    if bounds is not None and not bounds.minimum <= number <= bounds.maximum:
        raise ValueError(
            f"expected a number from {bounds.minimum} to {bounds.maximum} (got {number})"
        )
    return number


def _is_bounded_int(tp: Any) -> bool:
    return get_origin(tp) is Annotated and get_args(tp)[0] is int


def _structure_bounded_int(value: object, tp: Any) -> int:
    bounds = next((m for m in get_args(tp)[1:] if isinstance(m, Range)), None)
    return _structure_int(value, bounds)


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false (got {value!r})")


def _structure_words(value: object, _: type) -> tuple[str, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(str(v) for v in value)
    if not isinstance(value, str):
        raise ValueError("expected a comma-separated list")
    return tuple(word.strip() for word in value.split(",") if word.strip())


def _is_choice(tp: Any) -> bool:
    return get_origin(tp) is Annotated and any(isinstance(m, Choice) for m in get_args(tp)[1:])


def _structure_choice(value: object, tp: Any) -> str:
    choice = next(m for m in get_args(tp)[1:] if isinstance(m, Choice))
    text = str(value).strip().lower()
    if text not in choice.values:
        raise ValueError(f"expected one of {', '.join(choice.values)} (got {value!r})")
    return text


def _structure_secret(value: object, _: type) -> Secret:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return Secret(value)


def _structure_path(value: object, _: type) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a file path")
    return Path(value.strip()).expanduser()


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text (got {type(value).__name__})")
    return value


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, lambda v, _: _structure_int(v, None))
    converter.register_structure_hook(timedelta, lambda v, _: parse_duration(v))
    converter.register_structure_hook(Secret, _structure_secret)
    converter.register_structure_hook(Path, _structure_path)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_func(lambda tp: tp == tuple[str, ...], _structure_words)
    converter.register_structure_hook_func(
        lambda tp: tp == ProxyNetworks, lambda v, _: parse_networks(v)
    )
    converter.register_structure_hook_func(_is_bounded_int, _structure_bounded_int)
    converter.register_structure_hook_func(_is_choice, _structure_choice)
    converter.register_structure_hook_func(
        lambda tp: tp == (Limit | None), lambda v, _: parse_limit(v)
    )
    converter.register_structure_hook_func(
        lambda tp: tp == (timedelta | None), lambda v, _: parse_optional_duration(v)
    )
    return converter
