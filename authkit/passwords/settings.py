"""The passwords settings sections: bcrypt's cost, what a new password must be, and the
sign-in limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.errors import ConfigError
from authkit.core.values import Env, Range, Secret
from authkit.ops.metrics import NoMetrics
from authkit.passwords.cpu_pool import CPUPool
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.policy import PasswordPolicy
from authkit.passwords.throttle import Limit

__all__ = ["PasswordLoad", "PasswordSettings", "SigninLimits"]


@attrs.frozen
class PasswordSettings:
    bcrypt_rounds: Annotated[
        int,
        Range(4, 31),
        Env(
            "BCRYPT_ROUNDS",
            "bcrypt cost for new hashes (4-31); a stored hash of another cost is upgraded at "
            "its owner's next sign-in",
        ),
    ] = 10
    bcrypt_max_cost: Annotated[
        int,
        Range(4, 31),
        Env(
            "AUTHKIT_BCRYPT_MAX_COST",
            "highest bcrypt cost of a stored hash that sign-in checks; a hash above it is "
            "not checked (each guess would hold a core for seconds), the sign-in is denied "
            "and logged. At least BCRYPT_ROUNDS",
        ),
    ] = 14
    min_length: Annotated[
        int,
        Range(1, 72),
        Env(
            "AUTHKIT_PASSWORD_MIN_LENGTH",
            "fewest characters (code points, NFC) a new password may have",
        ),
    ] = 8
    max_length: Annotated[
        int,
        Range(1, 72),
        Env(
            "AUTHKIT_PASSWORD_MAX_LENGTH",
            "most characters a new password may have; NIST SP 800-63B asks for at least 64. "
            "bcrypt's 72 bytes in UTF-8 stay a limit too",
        ),
    ] = 20

    def policy(self) -> PasswordPolicy:
        """What signup asks of a new password; ConfigError when the bounds contradict."""
        try:
            return PasswordPolicy(self.min_length, self.max_length)
        except ValueError as exc:
            raise ConfigError(
                f"AUTHKIT_PASSWORD_MIN_LENGTH / AUTHKIT_PASSWORD_MAX_LENGTH: {exc}"
            ) from None

    def hasher(
        self, metrics: NoMetrics | None = None, pool: CPUPool | None = None
    ) -> PasswordHasher:
        """The hasher these settings ask for; ConfigError when the costs contradict."""
        try:
            return PasswordHasher(self.bcrypt_rounds, metrics, pool, max_cost=self.bcrypt_max_cost)
        except ValueError as exc:
            raise ConfigError(f"BCRYPT_ROUNDS / AUTHKIT_BCRYPT_MAX_COST: {exc}") from None


_TEN_PER_QUARTER_HOUR = Limit(10, 15 * 60)
_HUNDRED_PER_QUARTER_HOUR = Limit(100, 15 * 60)


@attrs.frozen
class SigninLimits:
    """Failed sign-ins allowed before 429; None turns a limit off.

    Per account: a guesser gets 10 tries per 15 minutes at one account, from
    anywhere; that is far beyond what a person who forgot a password needs.
    Per address: 100 per 15 minutes leaves room for many people behind one
    NAT, and stops one machine from spraying guesses across many accounts.
    Both count untrusted sources only. Per device: a client that signed in to
    the account before (its device token, authkit.passwords.devices) gets its
    own 10 per 15 minutes, whatever strangers did; `off` trusts no device.
    Device tokens are signed with `device_key`, or else with a key derived from
    JWT_SECRET; with neither (a key set and no device key) none are issued.
    """

    per_account: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_SIGNIN_LIMIT_ACCOUNT",
            "failed sign-ins allowed per account from untrusted sources (no device token) in a "
            "sliding window, then 429 (`off` to disable)",
            none_is_off=True,
        ),
    ] = _TEN_PER_QUARTER_HOUR
    per_address: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_SIGNIN_LIMIT_ADDRESS",
            "the same per client address (untrusted sources)",
            none_is_off=True,
        ),
    ] = _HUNDRED_PER_QUARTER_HOUR
    per_device: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_SIGNIN_LIMIT_DEVICE",
            "failed sign-ins allowed per trusted device (a client that signed in to the account "
            "before), counted apart from the two above (`off`: no device is trusted)",
            none_is_off=True,
        ),
    ] = _TEN_PER_QUARTER_HOUR
    device_ttl: Annotated[
        timedelta,
        Env(
            "AUTHKIT_DEVICE_TOKEN_TTL",
            "how long a device token keeps its client trusted (each sign-in renews it)",
        ),
    ] = timedelta(days=90)
    device_key: Annotated[
        Secret | None,
        Env(
            "AUTHKIT_DEVICE_KEY",
            "HMAC key for device tokens; changing it makes every client untrusted again",
            "(unset: derived from `JWT_SECRET`; with `AUTHKIT_JWT_KEYS` and no device key, "
            "no device is trusted)",
        ),
    ] = None


_THIRTY_PER_HOUR = Limit(30, 60 * 60)


@attrs.frozen
class PasswordLoad:
    """How much password work one client, and all of them together, may ask for.

    Sign-ups per address: 30 an hour leaves room for a classroom behind one NAT, and
    stops one machine from making accounts (and bcrypt work) by the hundred. The queue:
    with every bcrypt thread busy, 16 requests per thread may wait, a wait of about 16
    hashes; the next one is answered 503 with `Retry-After` at once instead of joining
    a queue whose end its client would not live to see.
    """

    signup_per_address: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_SIGNUP_LIMIT_ADDRESS",
            "sign-ups allowed per client address in a sliding window, then 429 (`off` to disable)",
            none_is_off=True,
        ),
    ] = _THIRTY_PER_HOUR
    queue_per_thread: Annotated[
        int,
        Range(1, 10_000),
        Env(
            "AUTHKIT_PASSWORD_QUEUE",
            "sign-ins and sign-ups that may wait for a bcrypt thread, per thread; beyond "
            "that, 503 with Retry-After at once",
        ),
    ] = 16
