"""What a new key may be called and carry, checked the same way for the route and the CLI.

Messages follow authkit's DTOs (class-validator's words): each failed rule once, in
field order. A label is 1-100 characters of text without control characters (it is
printed on operators' terminals by `authkit apikey list`). Scopes are optional, at
most 20, each an OAuth scope token (RFC 6749 3.3: printable ASCII without space,
`"` or `\\`, which also keeps them safe inside a quoted `WWW-Authenticate` value),
1-64 characters; duplicates are dropped, order kept.

Example:

    request = KeyRequest.from_body({"label": "ci", "scopes": ["reports:read"]})
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import attrs
from authkit.plugin import ValidationFailed, is_clean_text

__all__ = ["LABEL_MAX", "SCOPES_MAX", "SCOPE_MAX", "KeyRequest"]

LABEL_MAX = 100
SCOPE_MAX = 64
SCOPES_MAX = 20
_SCOPE = re.compile(rf"[\x21\x23-\x5b\x5d-\x7e]{{1,{SCOPE_MAX}}}")


def _label_errors(label: object) -> list[str]:
    too_long = f"label must be shorter than or equal to {LABEL_MAX} characters"
    too_short = "label must be longer than or equal to 1 characters"
    if not isinstance(label, str):
        return [too_long, too_short, "label must be a string"]
    if len(label) > LABEL_MAX:
        return [too_long]
    if not label:
        return [too_short]
    if not is_clean_text(label):
        return ["label must be valid Unicode text"]
    if any(unicodedata.category(c) == "Cc" for c in label):
        return ["label must not contain control characters"]
    return []


def _scope_errors(scopes: object) -> list[str]:
    if not isinstance(scopes, list):
        return ["scopes must be an array"]
    errors: list[str] = []
    if len(scopes) > SCOPES_MAX:
        errors.append(f"scopes must contain no more than {SCOPES_MAX} elements")
    if not all(isinstance(s, str) for s in scopes):
        errors.append("each value in scopes must be a string")
    elif not all(_SCOPE.fullmatch(s) for s in scopes):
        errors.append(
            f"each value in scopes must be 1-{SCOPE_MAX} printable ASCII characters "
            'without spaces, quotes (") or backslashes'
        )
    return errors


@attrs.frozen
class KeyRequest:
    label: str
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> KeyRequest:
        label, scopes = body.get("label"), body.get("scopes")
        if scopes is None:
            scopes = []  # absent or null: a key with no scopes
        errors = _label_errors(label) + _scope_errors(scopes)
        if errors or not isinstance(label, str) or not isinstance(scopes, list):
            raise ValidationFailed(errors)
        return cls(label=label, scopes=tuple(dict.fromkeys(scopes)))
