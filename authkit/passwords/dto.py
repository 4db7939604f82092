"""Request DTOs and their validation, in class-validator's words and order.

The NestJS DTO is

    @IsString() @MinLength(4) @MaxLength(20)  username
    @IsString() @MinLength(8, {message: 'Password is too short (8 characters min)'})
                @MaxLength(20, {message: 'Password is too long (20 characters max)'}) password

and class-validator reports a field's failures in reverse decorator order
(max, min, string). A value that is not a string fails all three. Lengths
count code points, as class-validator does (of a password's NFC form, so its
NFC and NFD spellings get one answer); the password's bounds are settings
(PasswordPolicy) whose defaults are the DTO's.

The rules after those are ours, each checked once the lengths are right:

- a username must have a canonical form (authkit.users.names): no control or
  invisible characters, not blank; the canonical form too has at least 4
  characters, so `"  ab  "` is not a way round the minimum;
- bcrypt hashes only 72 bytes, and 20 characters can be 80 bytes in UTF-8, so
  a password over 72 bytes is refused instead of being truncated silently;
- PasswordPolicy: not whitespace only, not the username, not a common password;
- `email` is optional (absent, null or empty: none); when given it must be an
  address authkit accepts (authkit.users.emails), and is kept in its canonical form.

Example:

    creds = SignupCredentials.from_body({"username": "alice", "password": "s3cret-pass"})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from authkit.core.errors import ValidationFailed
from authkit.passwords.hasher import BCRYPT_MAX_BYTES, PasswordHasher, normalized
from authkit.passwords.policy import PasswordPolicy
from authkit.users.emails import EmailRefused, canonical_email
from authkit.users.names import UsernameRefused, canonical_username

__all__ = ["SignupCredentials", "is_clean_text", "password_problems"]


@attrs.frozen
class _LengthRule:
    field: str
    minimum: int
    maximum: int
    too_short: str
    too_long: str

    def check(self, value: object) -> list[str]:
        if not isinstance(value, str):
            return [self.too_long, self.too_short, f"{self.field} must be a string"]
        if len(value) > self.maximum:
            return [self.too_long]
        if len(value) < self.minimum:
            return [self.too_short]
        return []


_USERNAME = _LengthRule(
    "username",
    4,
    20,
    too_short="username must be longer than or equal to 4 characters",
    too_long="username must be shorter than or equal to 20 characters",
)
_DEFAULT_POLICY = PasswordPolicy()


def _password_rule(policy: PasswordPolicy) -> _LengthRule:
    return _LengthRule(
        "password",
        policy.min_length,
        policy.max_length,
        too_short=policy.too_short,
        too_long=policy.too_long,
    )


def _username_problems(username: str) -> list[str]:
    if not is_clean_text(username):
        return ["username must be valid Unicode text"]
    try:
        canonical = canonical_username(username)
    except UsernameRefused as refused:
        return [str(refused)]
    return [] if len(canonical) >= _USERNAME.minimum else [_USERNAME.too_short]


def is_clean_text(value: str) -> bool:
    """True when `value` encodes as UTF-8 (JSON's `\\ud800` escapes can carry lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def password_problems(
    password: object, policy: PasswordPolicy = _DEFAULT_POLICY, *, username: object = None
) -> list[str]:
    """What sign-up's rules say of a new password (none: it may be used), for every place
    that sets one: sign-up, and an administrator setting a user's (authkit.admin)."""
    clean = isinstance(password, str) and is_clean_text(password)
    measured = normalized(password) if clean and isinstance(password, str) else password
    problems = _password_rule(policy).check(measured)
    if isinstance(password, str) and not problems:
        if not clean:
            problems.append("password must be valid Unicode text")
        elif PasswordHasher.too_long(password):
            problems.append(
                f"Password is too long ({BCRYPT_MAX_BYTES} bytes max in UTF-8, bcrypt's limit)"
            )
        else:
            problems = policy.problems(password, username=username)
    return problems


def _email_of(body: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    value = body.get("email")
    if value is None or value == "":
        return None, []
    try:
        return canonical_email(value), []
    except EmailRefused as refused:
        return None, [str(refused)]


@attrs.frozen
class SignupCredentials:
    username: str
    password: str = attrs.field(repr=False)
    # Canonical (authkit.users.emails); None when the client sent none.
    email: str | None = None

    @classmethod
    def from_body(
        cls, body: Mapping[str, Any], policy: PasswordPolicy = _DEFAULT_POLICY
    ) -> SignupCredentials:
        username, password = body.get("username"), body.get("password")
        username_errors = _USERNAME.check(username)
        if isinstance(username, str) and not username_errors:
            username_errors = _username_problems(username)
        password_errors = password_problems(password, policy, username=username)
        email, email_errors = _email_of(body)
        errors = username_errors + password_errors + email_errors
        if errors or not isinstance(username, str) or not isinstance(password, str):
            raise ValidationFailed(errors)
        return cls(username=username, password=password, email=email)
