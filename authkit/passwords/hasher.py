"""bcrypt hashing and verification, always off the event loop.

pyca/bcrypt releases the GIL while it works, so hashes run in worker threads
use every core while the loop keeps serving requests.

Hashes made by the NestJS app verify here: Node's `bcrypt` writes `$2b$`,
`bcryptjs` writes `$2a$`, and both hash only the first 72 bytes of a
password, silently. pyca/bcrypt refuses longer input instead, so verification
truncates to 72 bytes, exactly what Node hashed. New hashes are never made from
more than 72 bytes: `too_long()` lets signup reject such passwords up front.

Passwords are hashed in their NFC form (NIST SP 800-63B 5.1.1.2: the NFC and NFD
spellings of one password are one password). The NestJS app hashed the text as typed,
so for a hash without authkit's mark (`legacy`) the NFC form is tried, then the text as
typed and the NFD form where they differ. The number of bcrypt checks depends on the
password alone (one for ASCII, up to three for text whose spellings differ), never on
which user it is for or whether that user exists: missing checks are made against a
dummy hash.

Only a legacy hash is checked against the first 72 bytes of a longer password, as Node
hashed it; a hash authkit made never matches more than 72 bytes, since signup refuses
them, so `72 bytes + anything` is no second password.

A stored hash of a cost above `max_cost` is not checked at all: one `$2b$15$` hash would
hold a core for seconds per guess. The sign-in is denied (after the dummy checks, so it
takes what any other denial takes) and the refusal logged.

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
import unicodedata
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


def normalized(password: str) -> str:
    """The form of a password authkit hashes and measures: NFC."""
    return unicodedata.normalize("NFC", password)


def _forms(password: str) -> list[str]:
    """The spellings a legacy hash may have been made from: NFC, the text as typed, NFD
    (a user who signed up on a device that types NFD), each once."""
    spellings = [normalized(password), password, unicodedata.normalize("NFD", password)]
    return list(dict.fromkeys(spellings))


def _candidates(password: str, *, legacy: bool) -> list[bytes | None]:
    """What each check compares (None: a form signup could not have stored, so no match)."""
    if legacy:
        return [_secret_bytes(form) for form in _forms(password)]
    nfc = normalized(password).encode("utf-8")
    padding: list[bytes | None] = [None] * (len(_forms(password)) - 1)
    return [None if len(nfc) > BCRYPT_MAX_BYTES else nfc, *padding]


class PasswordHasher:
    def __init__(
        self,
        rounds: int = 10,
        metrics: NoMetrics | None = None,
        pool: CPUPool | None = None,
        *,
        max_cost: int = 14,
    ) -> None:
        if not 4 <= rounds <= 31:
            raise ValueError(f"bcrypt rounds must be between 4 and 31 (got {rounds})")
        if not rounds <= max_cost <= 31:
            raise ValueError(
                f"the highest bcrypt cost verified ({max_cost}) must be between the cost of "
                f"new hashes ({rounds}) and 31"
            )
        self.rounds = rounds
        self.max_cost = max_cost
        self._metrics = metrics or NoMetrics()
        # bcrypt holds a core for ~80 ms at cost 10: it gets threads of its own (see CPUPool).
        self.pool = pool or CPUPool()
        # Compared against when a username is unknown, so that answer takes as long as
        # a wrong password does and response time does not reveal which users exist.
        self._dummy_hash = bcrypt.hashpw(b"authkit-dummy-password", bcrypt.gensalt(rounds))

    @staticmethod
    def too_long(password: str) -> bool:
        """True when the password's NFC form is over bcrypt's 72 bytes in UTF-8."""
        return len(normalized(password).encode("utf-8")) > BCRYPT_MAX_BYTES

    async def hash(self, password: str, *, unless: Gone | None = None) -> str:
        """A new hash of the password's NFC form (what `verify(..., legacy=False)` checks).
        `unless` returns when the client went away: then ClientGone, and no hash if it had
        not started (see CPUPool.run); Overloaded when the queue is full."""
        if self.too_long(password):
            raise ValueError(f"password exceeds bcrypt's {BCRYPT_MAX_BYTES}-byte limit")
        salt = bcrypt.gensalt(self.rounds)
        secret = normalized(password).encode("utf-8")
        hashed = await self._timed("hash", bcrypt.hashpw, secret, salt, unless=unless)
        return hashed.decode("ascii")

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when `stored_hash` is a bcrypt hash of another cost than ours."""
        found = _COST.match(stored_hash)
        return found is not None and int(found[1]) != self.rounds

    async def rehash(self, password: str | bytes) -> str:
        """A hash at our cost of what verification checked, for upgrades: the bytes `match`
        returned, or a password's first 72 bytes."""
        secret = password if isinstance(password, bytes) else _secret_bytes(password)
        salt = bcrypt.gensalt(self.rounds)
        hashed = await self._timed("hash", bcrypt.hashpw, secret, salt)
        return hashed.decode("ascii")

    async def verify(
        self, password: str, stored_hash: str, *, legacy: bool = True, unless: Gone | None = None
    ) -> bool:
        """True when `password` matches `stored_hash`. `legacy`: the hash may be the NestJS
        app's (of the text as typed, the first 72 bytes); False for a hash `hash()` made."""
        return await self.match(password, stored_hash, legacy=legacy, unless=unless) is not None

    async def match(
        self, password: str, stored_hash: str, *, legacy: bool, unless: Gone | None = None
    ) -> bytes | None:
        """The bytes of `password` that match `stored_hash`, or None."""
        candidates = _candidates(password, legacy=legacy)
        if self._over_cost_cap(stored_hash):
            candidates = [None] * len(candidates)
        found = None
        for secret in candidates:
            if secret is None or found is not None:
                # The same bcrypt work as a real check, so the time taken tells nothing.
                await self._timed("verify", bcrypt.checkpw, b"", self._dummy_hash, unless=unless)
            elif await self._timed("verify", self._check, secret, stored_hash, unless=unless):
                found = secret
        return found

    async def verify_dummy(self, password: str, *, unless: Gone | None = None) -> None:
        """The bcrypt work a check of `password` costs, for a user that does not exist."""
        for secret in _candidates(password, legacy=True):
            await self._timed(
                "verify", bcrypt.checkpw, secret or b"", self._dummy_hash, unless=unless
            )

    def refused_cost(self, stored_hash: str) -> int | None:
        """The hash's bcrypt cost when it is above `max_cost` (not checked), else None."""
        found = _COST.match(stored_hash)
        cost = int(found[1]) if found is not None else 0
        # Over 31 is no bcrypt hash at all: bcrypt itself refuses it, and _check says so.
        return cost if self.max_cost < cost <= 31 else None

    def _over_cost_cap(self, stored_hash: str) -> bool:
        cost = self.refused_cost(stored_hash)
        if cost is None:
            return False
        logger.warning(
            "stored password hash has bcrypt cost %d, above the %d verified "
            "(AUTHKIT_BCRYPT_MAX_COST); denying sign-in without checking it",
            cost,
            self.max_cost,
        )
        return True

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
