"""Every error authkit raises, in one tree.

```
AuthkitError
├── ConfigError                  start-up only, never rendered as a response
├── RegistryError                start-up only
│   ├── UnknownStrategyError
│   └── DuplicateStrategyError
└── HTTPError                    rendered by authkit.http.responses, and only there
    ├── BadRequest (400)
    │   └── ValidationFailed     message is a list, class-validator style
    ├── AuthenticationFailed (401)
    │   ├── InvalidToken
    │   └── InvalidRefreshToken
    ├── Forbidden (403)
    │   ├── InsufficientScope
    │   └── AccountDisabled      the right password, for a user an administrator disabled
    ├── NotFound (404)
    ├── Conflict (409)
    │   └── UserAlreadyExists
    ├── PayloadTooLarge (413)
    ├── TooManyRequests (429)
    ├── ClientGone (499)         the client hung up; nobody reads the answer
    ├── BackendUnavailable (503)
    └── Overloaded (503)         too much password work waiting: shed at once
```

An `HTTPError` carries what the response says, in the NestJS shape
`{"message": ..., "error": ..., "statusCode": ...}`. `error` is left out when
the message is the bare status phrase, as NestJS does for `new
UnauthorizedException()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = [
    "AccountDisabled",
    "AuthenticationFailed",
    "AuthkitError",
    "BackendUnavailable",
    "BadRequest",
    "ClientGone",
    "ConfigError",
    "Conflict",
    "DuplicateStrategyError",
    "EmailAlreadyInUse",
    "Forbidden",
    "HTTPError",
    "InsufficientScope",
    "InvalidRefreshToken",
    "InvalidToken",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RegistryError",
    "TooManyRequests",
    "UnknownStrategyError",
    "UserAlreadyExists",
    "ValidationFailed",
]


class AuthkitError(Exception):
    """Base of everything authkit raises on purpose."""


class ConfigError(AuthkitError):
    """The configuration cannot be used; raised at start-up, with every problem named."""


class RegistryError(AuthkitError):
    """A strategy could not be registered or found; raised at start-up."""


class UnknownStrategyError(RegistryError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(f"no strategy is registered as {name!r} (registered: {listed})")
        self.name = name


class DuplicateStrategyError(RegistryError):
    def __init__(self, name: str, existing: object, new: object) -> None:
        super().__init__(
            f"strategy name {name!r} is already taken by {existing!r}; cannot register {new!r}"
        )
        self.name = name


class HTTPError(AuthkitError):
    """An error a client sees. Subclasses set `status_code` and `error` (the status phrase)."""

    status_code: ClassVar[int] = 500
    error: ClassVar[str] = "Internal Server Error"
    default_message: ClassVar[str] = "Internal server error"

    def __init__(self, message: str | Sequence[str] | None = None) -> None:
        self.message: str | list[str] = (
            self.default_message
            if message is None
            else message
            if isinstance(message, str)
            else list(message)
        )
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(HTTPError):
    status_code = 400
    error = "Bad Request"
    default_message = "Bad Request"


class ValidationFailed(BadRequest):
    """The request body failed validation; `message` lists every failed rule in order."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__(list(messages))


class AuthenticationFailed(HTTPError):
    """No strategy of a guard accepted the request (RFC 7235: a 401 names its challenges)."""

    status_code = 401
    error = "Unauthorized"
    default_message = "Unauthorized"

    def __init__(self, message: str | None = None, challenges: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.challenges = tuple(challenges)

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": ", ".join(self.challenges)} if self.challenges else {}


class InvalidToken(AuthenticationFailed):
    """A bearer token that is malformed, forged, expired or otherwise unacceptable.

    The message stays the bare "Unauthorized": telling an attacker which check failed helps them.
    `description` is what RFC 6750's `error_description` may say: that a token expired (its
    signature and claims were good, so the client should refresh it), or that it is invalid,
    never which check a forged or altered token failed.
    """

    EXPIRED_DESCRIPTION: ClassVar[str] = "The access token expired"
    INVALID_DESCRIPTION: ClassVar[str] = "The access token is invalid"

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__(None)
        self.reason = reason  # a fixed label (expired, bad_signature, ...) for metrics; never sent

    @property
    def expired(self) -> bool:
        return self.reason == "expired"

    @property
    def description(self) -> str:
        return self.EXPIRED_DESCRIPTION if self.expired else self.INVALID_DESCRIPTION

    def bearer_challenge(self, realm: str = "authkit") -> str:
        """The `WWW-Authenticate` challenge for this refusal (RFC 6750 3 and 3.1)."""
        return (
            f'Bearer realm="{realm}", error="invalid_token", error_description="{self.description}"'
        )


class InvalidRefreshToken(AuthenticationFailed):
    """A refresh token that is unknown, expired, revoked or already used: sign in again.

    One message for every case, so a client learns what to do and an attacker learns nothing.
    """

    default_message = "Invalid or expired refresh token"

    def __init__(self) -> None:
        super().__init__(None, ['RefreshToken realm="authkit"'])


class Forbidden(HTTPError):
    status_code = 403
    error = "Forbidden"
    default_message = "Forbidden"


class InsufficientScope(Forbidden):
    """Authenticated, but without every scope the guard requires (RFC 6750 3.1)."""

    def __init__(self, missing: Sequence[str]) -> None:
        self.missing = tuple(missing)
        noun = "scope" if len(self.missing) == 1 else "scopes"
        super().__init__(f"Missing {noun}: {', '.join(self.missing)}")

    @property
    def headers(self) -> dict[str, str]:
        scope = " ".join(self.missing)
        return {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'}


class AccountDisabled(Forbidden):
    """The password was right, but an administrator disabled the user (authkit.admin).

    Only ever raised after the password matched: a caller without it gets the same 401
    as for any wrong password, so a stranger cannot tell a disabled account from another.
    """

    default_message = "This account is disabled"


class NotFound(HTTPError):
    status_code = 404
    error = "Not Found"
    default_message = "Not Found"


class Conflict(HTTPError):
    status_code = 409
    error = "Conflict"
    default_message = "Conflict"


class UserAlreadyExists(Conflict):
    default_message = "User already exists"


class EmailAlreadyInUse(Conflict):
    default_message = "Email already in use"


class PayloadTooLarge(HTTPError):
    status_code = 413
    error = "Payload Too Large"
    default_message = "Payload Too Large"


class TooManyRequests(HTTPError):
    status_code = 429
    error = "Too Many Requests"
    default_message = "Too Many Requests"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class BackendUnavailable(HTTPError):
    """The database (or another backend) cannot be reached; the client may retry."""

    status_code = 503
    error = "Service Unavailable"
    default_message = "The user database is unavailable; try again shortly"

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class ClientGone(HTTPError):
    """The client closed its connection before the work it asked for began: it is skipped.

    Nobody reads the answer; 499 is what nginx logs for it, so access logs say what happened.
    """

    status_code = 499
    error = "Client Closed Request"
    default_message = "The client closed the connection"


class Overloaded(HTTPError):
    """More password work is waiting than the bound allows: answered at once, not queued."""

    status_code = 503
    error = "Service Unavailable"
    default_message = "Too many sign-ins and sign-ups are waiting; try again shortly"

    def __init__(self, retry_after: int = 1, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
