"""The fake clock tests inject wherever authkit takes a `clock` (TokenIssuer, KeyRing,
SigninThrottle, TokenLifecycle): no sleeps, time moves when a test says so."""

from __future__ import annotations

FIXED_NOW = 1_800_000_000  # 2027-01-15: what a fake clock says unless told otherwise


class Clock:
    """Calling it gives the time in seconds since the epoch, a float; tests set `.now` or
    `.advance(seconds)` it."""

    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __repr__(self) -> str:
        return f"Clock({self.now!r})"
