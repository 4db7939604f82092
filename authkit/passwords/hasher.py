"""bcrypt hashing and verification, always off the event loop.

pyca/bcrypt releases the GIL while it works, so hashes run in worker threads
use every core while the loop keeps serving requests.

Hashes made by the NestJS app verify here: Node's `bcrypt` writes `$2b$`,
`bcryptjs` writes `$2a$`, and both hash only the first 72 bytes of a
password, silently. pyca/bcrypt refuses longer input instead, so verification
truncates to 72 bytes, exactly what Node hashed. New hashes are never made from
more than 72 bytes: `too_long()` lets signup reject such passwords up front.

When BCRYPT_ROUNDS changes, `needs_rehash()` tells a successful sign-in that the
stored hash was made at another cost; `rehash()` makes a new one from the bytes
that were verified. The `$2a$`/`$2b$` prefix alone is no reason: Node's hashes of
the right cost stay as they are, so the NestJS app keeps reading them.

Example:

    hasher = PasswordHasher(rounds=10)
    stored = await hasher.hash("correct horse")
    assert await hasher.verify("correct horse", stored)
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import bcrypt

from authkit.ops.metrics import NoMetrics
from authkit.passwords.cpu_pool import CPUPool

__all__ = ["BCRYPT_MAX_BYTES", "PasswordHasher"]

BCRYPT_MAX_BYTES = 72
logger = logging.getLogger("authkit.passwords")
T = TypeVar("T")
# Returns when the request's client has gone away (`request_gone`).
Gone = Callable[[], Awaitable[object]]
_COST = re.compile(r"^\$2[abxy]\$(\d\d)\$")


def _secret_bytes(password: str) -> bytes:
    return password.encode("utf-8")[:BCRYPT_MAX_BYTES]


class PasswordHasher:
    def __init__(
        self, rounds: int = 10, metrics: NoMetrics | None = None, pool: CPUPool | None = None
    ) -> None:
        if not 4 <= rounds <= 31:
            raise ValueError(f"bcrypt rounds must be between 4 and 31 (got {rounds})")
        self.rounds = rounds
        self._metrics = metrics or NoMetrics()
        # bcrypt holds a core for ~80 ms at cost 10: it gets threads of its own (see CPUPool).
        self.pool = pool or CPUPool()
        # Compared against when a username is unknown, so that answer takes as long as
        # a wrong password does and response time does not reveal which users exist.
        self._dummy_hash = bcrypt.hashpw(b"authkit-dummy-password", bcrypt.gensalt(rounds))

    @staticmethod
    def too_long(password: str) -> bool:
        return len(password.encode("utf-8")) > BCRYPT_MAX_BYTES

    async def hash(self, password: str, *, unless: Gone | None = None) -> str:
        """A new hash. `unless` returns when the client went away: then ClientGone, and no
        hash if it had not started (see CPUPool.run); Overloaded when the queue is full."""
        if self.too_long(password):
            raise ValueError(f"password exceeds bcrypt's {BCRYPT_MAX_BYTES}-byte limit")
        salt = bcrypt.gensalt(self.rounds)
        hashed = await self._timed(
            "hash", bcrypt.hashpw, password.encode("utf-8"), salt, unless=unless
        )
        return hashed.decode("ascii")

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when `stored_hash` is a bcrypt hash of another cost than ours."""
        found = _COST.match(stored_hash)
        return found is not None and int(found[1]) != self.rounds

    async def rehash(self, password: str) -> str:
        """A hash at our cost of what verification checks (the first 72 bytes), for upgrades."""
        salt = bcrypt.gensalt(self.rounds)
        hashed = await self._timed("hash", bcrypt.hashpw, _secret_bytes(password), salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, stored_hash: str, *, unless: Gone | None = None) -> bool:
        return await self._timed(
            "verify", self._check, _secret_bytes(password), stored_hash, unless=unless
        )

    async def verify_dummy(self, password: str, *, unless: Gone | None = None) -> None:
        await self._timed(
            "verify", bcrypt.checkpw, _secret_bytes(password), self._dummy_hash, unless=unless
        )

    async def _timed(
        self, operation: str, fn: Callable[..., T], *args: object, unless: Gone | None = None
    ) -> T:
        def timed() -> tuple[T, float]:
            # Timed inside the worker thread: bcrypt's own cost, not the wait for a thread.
            started = time.perf_counter()
            return fn(*args), time.perf_counter() - started

        result, seconds = await self.pool.run(timed, unless=unless)
        self._metrics.bcrypt(operation, seconds)
        return result

    @staticmethod
    def _check(secret: bytes, stored_hash: str) -> bool:
        try:
            return bcrypt.checkpw(secret, stored_hash.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            # A corrupt stored hash is the operator's problem, not the client's: deny, and say so.
            logger.warning("stored password hash is not a valid bcrypt hash; denying sign-in")
            return False
