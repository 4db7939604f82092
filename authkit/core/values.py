"""The value types settings are made of: a Secret that hides itself, and the bounds a
text setting (Choice) or an integer setting (Range) is checked against when converted."""

from __future__ import annotations

import attrs

__all__ = ["Choice", "Range", "Secret"]


@attrs.frozen
class Choice:
    """The values a text setting may take, checked when the text is converted."""

    values: tuple[str, ...]


@attrs.frozen
class Range:
    """Bounds for an integer setting, checked when the text is converted."""

    minimum: int
    maximum: int


@attrs.frozen(repr=False)
class Secret:
    """A string that never shows itself in a repr, a log or a traceback (Starlette's Secret)."""

    value: str

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__
