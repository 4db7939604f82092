"""The passwords settings sections: bcrypt's cost and the sign-in limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.values import Env, Range, Secret
from authkit.passwords.throttle import Limit

__all__ = ["PasswordSettings", "SigninLimits"]


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
