"""PasswordPolicy: what signup refuses beyond the length bounds.

NIST SP 800-63B 5.1.1.2 asks verifiers to refuse passwords found in breach corpora and
context-specific words such as the username, and to ask for nothing else (no
composition rules). So a new password is refused when it is

- whitespace only;
- the username, compared case-insensitively and with compatibility forms folded (NFKC),
  so `Alice` is not a password for `alice`;
- on the list of the 30,000 most common passwords from breach corpora that the zxcvbn
  package ships (offline, nothing is looked up at run time), compared the same way.

The length bounds are settings (AUTHKIT_PASSWORD_MIN_LENGTH, AUTHKIT_PASSWORD_MAX_LENGTH)
counted in code points of the password's NFC form, with the NestJS DTO's 8 and 20 as
defaults; bcrypt's 72 bytes stay a limit of their own.

Example:

    PasswordPolicy(min_length=8, max_length=64).problems("password", username="alice")
    # ['Password is too common: it is on a list of breached passwords']
"""

from __future__ import annotations

import functools
import unicodedata

import attrs

__all__ = ["PasswordPolicy"]


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # a large module: loaded on first use

    return frozenset(FREQUENCY_LISTS["passwords"])


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@attrs.frozen
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 20

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(
                f"the shortest password allowed ({self.min_length}) must be at least 1 and "
                f"at most the longest ({self.max_length})"
            )

    @property
    def too_short(self) -> str:
        return f"Password is too short ({self.min_length} characters min)"

    @property
    def too_long(self) -> str:
        return f"Password is too long ({self.max_length} characters max)"

    def problems(self, password: str, *, username: object) -> list[str]:
        """What is wrong with a password that has the right length, in the client's words."""
        if not password.strip():
            return ["Password must not be only whitespace"]
        folded = _folded(password)
        if isinstance(username, str) and folded == _folded(username):
            return ["Password must not be the username"]
        if folded in _common_passwords():
            return ["Password is too common: it is on a list of breached passwords"]
        return []
