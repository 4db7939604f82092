"""The value types settings are made of: a Secret that hides itself, and the bounds a
text setting (Choice) or an integer setting (Range) is checked against when converted."""

from __future__ import annotations

import attrs

__all__ = ["Choice", "Env", "Range", "Secret"]


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


@attrs.frozen
class Env:
    """Where a setting comes from and what it means, in the field's annotation:

        leeway: Annotated[int, Range(0, 300), Env("AUTHKIT_JWT_LEEWAY", "seconds ...")] = 0

    The variable's name, one line of help, and how the default reads when its value alone
    does not say it (`default_text`). `none_is_off`: None is written `off` (a limit or a
    lifetime turned off), not left unset. The loader, `authkit check` and the README's
    settings table all come from these (authkit.settings.catalog).
    """

    name: str
    help: str
    default_text: str | None = None
    none_is_off: bool = False
