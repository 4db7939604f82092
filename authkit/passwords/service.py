"""AuthService: sign up and check a password. No HTTP and no database details here.

Every password check goes through `validate_user`, so every password-based
strategy (local today, HTTP Basic tomorrow) gets the same guarantees: an
unknown user costs the same bcrypt work as a wrong password, failures are
throttled per account and per address, and each outcome is logged as a
security event on the `authkit.security` logger (never with the password).
A successful check also upgrades a hash made at another bcrypt cost than
BCRYPT_ROUNDS, when the store can write one (an `AccountStore`).

Example:

    from authkit.plugin import PasswordHasher, SignupCredentials

    service = AuthService(users=store, passwords=PasswordHasher(10))
    await service.sign_up(SignupCredentials("alice", "s3cret-pass"))
    user = await service.validate_user("alice", "s3cret-pass", address="203.0.113.9")
"""

from __future__ import annotations

import logging
from typing import Protocol

import attrs

from authkit.core.errors import BackendUnavailable, ClientGone, Overloaded, TooManyRequests
from authkit.ops.metrics import NoMetrics
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.hasher import Gone, PasswordHasher
from authkit.passwords.signup_limit import SignupLimit
from authkit.passwords.throttle import SigninThrottle
from authkit.users.store import AccountStore, User, UserStore

__all__ = ["AuthService"]

security_log = logging.getLogger("authkit.security")
# The part of the password queue sign-ups may hold at once; the rest is sign-ins' alone.
SIGNUP_SHARE = 0.5
# Sign-ups wait for a bcrypt thread behind every sign-in (priority 0): a flood of them
# does not make a person signing in wait.
SIGNUP_PRIORITY = 1


class Client(Protocol):
    """The client a request came from (authkit.http.disconnect.ClientConnection)."""

    async def gone(self) -> None:
        """Return once the client has gone away."""

    async def has_gone(self) -> bool:
        """Whether it has gone away already."""


@attrs.frozen
class AuthService:
    users: UserStore
    passwords: PasswordHasher
    throttle: SigninThrottle | None = None
    metrics: NoMetrics = attrs.field(factory=NoMetrics)
    signup_limit: SignupLimit | None = None

    async def sign_up(
        self,
        credentials: SignupCredentials,
        *,
        address: str = "unknown",
        client: Client | None = None,
    ) -> User:
        """Hash and store a new user. Overloaded (503) when too much password work waits,
        TooManyRequests past the address's sign-up limit, ClientGone when `client` left
        before the account was written: then no account, and no hash if it had not begun."""
        # A place in the password queue first: a shed sign-up has written nothing. Sign-ups
        # may fill only part of it, and go after sign-ins: a flood of them leaves room for,
        # and does not delay, people signing in.
        with self.passwords.pool.reserve(share=SIGNUP_SHARE, priority=SIGNUP_PRIORITY):
            if client is not None and await client.has_gone():
                raise ClientGone()
            limit = self.signup_limit
            record = None if limit is None else await limit.begin(address)
            try:
                unless: dict[str, Gone] = {} if client is None else {"unless": client.gone}
                password_hash = await self.passwords.hash(credentials.password, **unless)
                if client is not None and await client.has_gone():
                    raise ClientGone()
            except ClientGone:
                if limit is not None:
                    await limit.take_back(record)
                raise
            user = await self.users.create(credentials.username, password_hash)
        security_log.info(
            "signup",
            extra={"fields": {"event": "signup", "user": user.username, "user_id": user.id}},
        )
        return user

    async def validate_user(
        self,
        username: str,
        password: str,
        *,
        address: str = "unknown",
        client: Client | None = None,
    ) -> User | None:
        """The user when the password is right, None when not; TooManyRequests when throttled,
        Overloaded when too much password work waits, ClientGone when `client` left first."""
        if self.throttle is None:
            return await self._reserved_check(username, password, address, client)
        async with self.throttle.slot(username, address):
            return await self._reserved_check(username, password, address, client)

    async def _reserved_check(
        self, username: str, password: str, address: str, client: Client | None
    ) -> User | None:
        # The place in the password queue comes before the throttle counts the attempt: a
        # shed sign-in leaves no attempt behind to be taken for a failure.
        try:
            with self.passwords.pool.reserve():
                if client is not None and await client.has_gone():
                    raise ClientGone()
                return await self._check_password(username, password, address, client)
        except Overloaded:
            self.metrics.signin("shed")
            _signin_event(logging.WARNING, "shed", username, address)
            raise

    async def _check_password(
        self, username: str, password: str, address: str, client: Client | None
    ) -> User | None:
        throttle = self.throttle
        # Only with a client: a hasher of one's own (a test's, a plugin's) may not take it.
        unless: dict[str, Gone] = {} if client is None else {"unless": client.gone}
        attempt = None if throttle is None else await throttle.begin(username, address)
        if attempt is not None and (wait := attempt.check.retry_after) is not None:
            self.metrics.signin("throttled")
            _signin_event(logging.WARNING, "throttled", username, address, retry_after=wait)
            raise TooManyRequests(
                wait, f"Too many failed sign-in attempts; try again in {wait} seconds"
            )
        user = await self.users.find_by_username(username)
        if user is None:
            await self.passwords.verify_dummy(password, **unless)
        elif await self.passwords.verify(password, user.password_hash, **unless):
            if throttle is not None and attempt is not None:
                await throttle.succeeded(attempt)
            self.metrics.signin("succeeded")
            _signin_event(logging.INFO, "ok", username, address)
            return await self._upgrade_hash(user, password)
        self.metrics.signin("failed")
        reason = "unknown_user" if user is None else "wrong_password"
        _signin_event(logging.WARNING, "failed", username, address, reason=reason)
        if throttle is not None and attempt is not None:
            await throttle.failed(attempt)  # its record, written before the check, stays
        return None

    async def _upgrade_hash(self, user: User, password: str) -> User:
        """Rehash at BCRYPT_ROUNDS a hash made at another cost; the sign-in succeeds either way."""
        if not self.passwords.needs_rehash(user.password_hash) or not isinstance(
            self.users, AccountStore
        ):
            return user
        new_hash = await self.passwords.rehash(password)
        try:
            stored = await self.users.replace_password_hash(user.id, user.password_hash, new_hash)
        except BackendUnavailable:
            stored = False  # the next sign-in tries again
        fields = {
            "event": "password_rehashed" if stored else "password_rehash_skipped",
            "user": user.username,
            "user_id": user.id,
            "from_cost": user.password_hash[4:6],
            "to_cost": self.passwords.rounds,
        }
        message = "password hash upgraded" if stored else "password hash upgrade skipped"
        security_log.info(message, extra={"fields": fields})
        return attrs.evolve(user, password_hash=new_hash) if stored else user


def _signin_event(level: int, outcome: str, user: str, address: str, **more: object) -> None:
    """`signin <outcome>` on the security log, as event `signin_<outcome>`."""
    fields = {"event": f"signin_{outcome}", "user": user, "address": address, **more}
    security_log.log(level, f"signin {outcome}", extra={"fields": fields})
