"""Second-factor attempts, throttled like sign-in: the sign-in throttle's store and rules
(authkit.passwords.throttle), in a collection of its own (`mfa_failures`), counted per user
over every challenge (its `account`) and per challenge or step-up of that user (its
`address`).

Each attempt is written before its code is checked, so a burst of guesses at one challenge
gets no more checks than the limit allows; a right code takes its attempt back and forgives
that challenge's failures, never the user's others.

Example:

    from authkit.passwords.throttle import Limit, SigninThrottle

    attempts = FactorAttempts(SigninThrottle(db["mfa_failures"], per_account=Limit(10, 900),
                                             per_address=Limit(5, 300)))

    async def wrong_code() -> bool:
        return False

    await attempts.check("6650c0ffee0123456789abcd", "challenge:1f2e", wrong_code)  # False
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import attrs

from authkit.core.errors import TooManyRequests
from authkit.passwords.throttle import SigninThrottle

__all__ = ["FactorAttempts"]

security_log = logging.getLogger("authkit.security")


@attrs.frozen
class FactorAttempts:
    throttle: SigninThrottle

    async def check(self, user_id: str, scope: str, judge: Callable[[], Awaitable[bool]]) -> bool:
        """`judge()`'s verdict on one attempt of `user_id`'s within `scope` (a challenge, or
        a step-up); TooManyRequests, with nothing judged, once either limit is reached."""
        # The throttle's per-address limit counts a scope across accounts: the user's id
        # makes each scope theirs alone, so nobody's wrong codes count against another.
        attempt = await self.throttle.begin(user_id, f"{scope}:{user_id}")
        if (wait := attempt.check.retry_after) is not None:
            security_log.warning(
                "second factor throttled",
                extra={
                    "fields": {"event": "mfa_throttled", "user_id": user_id, "retry_after": wait}
                },
            )
            raise TooManyRequests(wait, f"Too many wrong codes; try again in {wait} seconds")
        try:
            right = await judge()
        except BaseException:
            await self.throttle.withdraw(attempt)
            raise
        if right:
            await self.throttle.succeeded(attempt)
        else:
            await self.throttle.failed(attempt)
            security_log.warning(
                "second factor refused",
                extra={"fields": {"event": "mfa_failed", "user_id": user_id}},
            )
        return right
