"""In-process slots for sign-in attempts: at most a limit's worth of one account's (and one
address's) attempts in flight in this process at once; the rest wait here, for free. A
trusted device's attempts take that device's slots instead, so they never queue behind a
stranger's burst at the same account.

The throttle's count in the database is what makes the limits hold across processes and
hosts; it counts attempts in flight too, so a burst of sign-ins to one account, more than
the limit at once, would otherwise have each extra attempt poll the database until one in
flight ends. Waiting on a local semaphore first leaves the database polling to bursts
spread over several processes.

Example:

    slots = AttemptSlots(per_account=10, per_address=100, per_device=10)
    async with slots.hold("alice", "203.0.113.9"):  # or .hold("alice", address, device_id)
        ...  # begin the attempt, check the password, settle it
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["AttemptSlots"]


class _Slots:
    """One semaphore per key, dropped when nobody holds or waits for it."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._held: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        semaphore, users = self._held.get(key, (asyncio.Semaphore(self._size), 0))
        self._held[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._held[key]
            if users == 1:
                del self._held[key]
            else:
                self._held[key] = (semaphore, users - 1)


class AttemptSlots:
    def __init__(
        self, *, per_account: int | None, per_address: int | None, per_device: int | None = None
    ) -> None:
        self._accounts = None if per_account is None else _Slots(per_account)
        self._addresses = None if per_address is None else _Slots(per_address)
        self._devices = None if per_device is None else _Slots(per_device)

    @contextlib.asynccontextmanager
    async def hold(
        self, account: str, address: str, device: str | None = None
    ) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as held:
            if device is not None and self._devices is not None:
                # A trusted device is counted apart, so it waits apart: a stranger's burst
                # at the account does not queue the owner's sign-in behind it.
                await held.enter_async_context(self._devices.hold(device))
            else:
                # Always the account first, then the address: no two attempts wait on each
                # other.
                if self._accounts is not None:
                    await held.enter_async_context(self._accounts.hold(account))
                if self._addresses is not None:
                    await held.enter_async_context(self._addresses.hold(address))
            yield
