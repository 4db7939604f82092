"""What a role name may be, and reading a list of them from a request or a command line.

A role travels in the access token's `roles` claim and is compared with a guard's scopes,
which are space-separated in OAuth's `scope`: so a name is one word of letters, digits and
`_ . : -`, at most 64 characters, and a user holds at most MAX_ROLES of them.

Example:

    assert parse_roles(["admin", "reports:read", "admin"]) == ("admin", "reports:read")
    assert parse_roles("admin reports:read") == ("admin", "reports:read")
"""

from __future__ import annotations

import re

from authkit.core.errors import ValidationFailed

__all__ = ["MAX_ROLES", "is_role", "parse_roles"]

MAX_ROLES = 32
_ROLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def is_role(value: object) -> bool:
    return isinstance(value, str) and bool(_ROLE.fullmatch(value))


def parse_roles(value: object) -> tuple[str, ...]:
    """Roles from a JSON list of strings, or a string of them separated by spaces or commas
    (a form field, a command line); in order, each once. ValidationFailed (400) if not."""
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    if not isinstance(value, list):
        raise ValidationFailed(["roles must be a list of strings"])
    if len(value) > MAX_ROLES:
        raise ValidationFailed([f"at most {MAX_ROLES} roles"])
    if not all(is_role(v) for v in value):
        raise ValidationFailed(
            ["each role must be 1-64 letters, digits or _ . : - (starting with a letter or digit)"]
        )
    return tuple(dict.fromkeys(value))
