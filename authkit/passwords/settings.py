"""The passwords settings sections: bcrypt's cost and the sign-in limits."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Env, Range
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


_TEN_PER_QUARTER_HOUR = Limit(10, 15 * 60)
_HUNDRED_PER_QUARTER_HOUR = Limit(100, 15 * 60)


@attrs.frozen
class SigninLimits:
    """Failed sign-ins allowed before 429; None turns a limit off.

    Per account: a guesser gets 10 tries per 15 minutes at one account, from
    anywhere; that is far beyond what a person who forgot a password needs.
    Per address: 100 per 15 minutes leaves room for many people behind one
    NAT, and stops one machine from spraying guesses across many accounts.
    """

    per_account: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_SIGNIN_LIMIT_ACCOUNT",
            "failed sign-ins allowed per account in a sliding window, then 429 (`off` to disable)",
            none_is_off=True,
        ),
    ] = _TEN_PER_QUARTER_HOUR
    per_address: Annotated[
        Limit | None,
        Env("AUTHKIT_SIGNIN_LIMIT_ADDRESS", "the same per client address", none_is_off=True),
    ] = _HUNDRED_PER_QUARTER_HOUR


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
