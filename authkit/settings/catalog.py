"""Every setting, read off the settings classes: its variable, section, field, default and
help, each written once, in the field's `Env` annotation (authkit.core.values).

The loader's table of variables, `authkit check`'s listing and the README's settings
table (`python -m authkit.settings` prints it; a test holds the README to it) all come
from `catalog()`.

Example:

    for entry in catalog():
        print(entry.env.name, entry.default_text)   # JWT_EXPIRES_IN `60s`
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, get_args, get_origin

import attrs

from authkit.core.values import Env
from authkit.passwords.throttle import Limit
from authkit.settings.model import Settings

__all__ = ["Entry", "catalog", "entries_of", "format_value", "markdown_table"]


@attrs.frozen
class Entry:
    env: Env
    section: str
    field: str
    default: Any

    @property
    def default_text(self) -> str:
        if self.env.default_text is not None:
            return self.env.default_text
        if self.default is None and not self.env.none_is_off:
            return "(unset)"
        return f"`{format_value(self.default, none_is_off=self.env.none_is_off)}`"


def _env_of(annotation: Any) -> Env | None:
    if get_origin(annotation) is not Annotated:
        return None
    return next((m for m in get_args(annotation)[1:] if isinstance(m, Env)), None)


def entries_of(cls: type, section: str) -> Iterator[Entry]:
    """The settings one section class declares; TypeError if a field has no Env."""
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in attrs.fields(cls):
        env = _env_of(hints[field.name])
        if env is None:
            raise TypeError(f"{cls.__name__}.{field.name} declares no Env(...) annotation")
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        yield Entry(env, section, field.name, default)


# Fields of Settings that hold no section of Env-annotated fields.
_NOT_SECTIONS = frozenset({"extensions", "oauth_clients"})


def _entries() -> Iterator[Entry]:
    sections = typing.get_type_hints(Settings)
    for section in attrs.fields(Settings):
        if section.name not in _NOT_SECTIONS:
            yield from entries_of(sections[section.name], section.name)


_CATALOG = tuple(_entries())


def catalog() -> tuple[Entry, ...]:
    return _CATALOG


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def _duration(seconds: int) -> str:
    # The largest unit that reads as a whole number of at least 2 (60s, 15m, 14d): one
    # of a unit reads better in the next one down (60s rather than 1m).
    unit, size = next(
        ((u, n) for u, n in _UNITS if seconds % n == 0 and seconds // n >= 2), ("s", 1)
    )
    return f"{seconds // size}{unit}"


def format_value(value: object, *, none_is_off: bool = False) -> str:
    """A value as an operator writes it in the environment (`60s`, `10/15m`, `true`)."""
    if value is None:
        return "off" if none_is_off else "(unset)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, timedelta):
        return _duration(int(value.total_seconds()))
    if isinstance(value, Limit):
        return f"{value.failures}/{_duration(value.window_seconds)}"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def markdown_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{e.env.name}` | {e.default_text} | {e.env.help} |" for e in catalog()]
    return "\n".join(rows) + "\n"
