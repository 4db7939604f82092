"""AuthService: sign up and check a password. No HTTP and no database details here.

Every password check goes through `validate_user`, so every password-based
strategy (local today, HTTP Basic tomorrow) gets the same guarantees: an
unknown user costs the same bcrypt work as a wrong password, failures are
throttled per account and per address, and each outcome is logged as a
security event on the `authkit.security` logger (never with the password).
A successful check also upgrades a hash made at another bcrypt cost than
BCRYPT_ROUNDS, when the store can write one (an `AccountStore`).

A username longer than MAX_SIGNIN_USERNAME_LENGTH fails at once: no account can have
it, and it is not stored (the throttle's documents), nor logged whole.

Example:

    from authkit.plugin import PasswordHasher, SignupCredentials

    service = AuthService(users=store, passwords=PasswordHasher(10))
    await service.sign_up(SignupCredentials("alice", "s3cret-pass"))
    user = await service.validate_user("alice", "s3cret-pass", address="203.0.113.9")
"""

from __future__ import annotations

import logging

import attrs

from authkit.core.errors import BackendUnavailable, TooManyRequests
from authkit.ops.logs import clip
from authkit.ops.metrics import NoMetrics
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.throttle import SigninThrottle
from authkit.users.store import AccountStore, User, UserStore

__all__ = ["MAX_SIGNIN_USERNAME_LENGTH", "AuthService"]

security_log = logging.getLogger("authkit.security")
# Sign-up allows 20 characters; a store of a plugin's may hold e-mail addresses (254 at most).
MAX_SIGNIN_USERNAME_LENGTH = 256
# What a security event keeps of a username longer than that.
_LOGGED_USERNAME_LENGTH = 64


@attrs.frozen
class AuthService:
    users: UserStore
    passwords: PasswordHasher
    throttle: SigninThrottle | None = None
    metrics: NoMetrics = attrs.field(factory=NoMetrics)

    async def sign_up(self, credentials: SignupCredentials) -> User:
        password_hash = await self.passwords.hash(credentials.password)
        user = await self.users.create(credentials.username, password_hash)
        security_log.info(
            "signup",
            extra={"fields": {"event": "signup", "user": user.username, "user_id": user.id}},
        )
        return user

    async def validate_user(
        self, username: str, password: str, *, address: str = "unknown"
    ) -> User | None:
        """The user when the password is right, None when not; TooManyRequests when throttled."""
        if len(username) > MAX_SIGNIN_USERNAME_LENGTH:
            # Nobody has this name, so no password is checked and no failure is counted:
            # counting would store the client's string, and the attempt learns nothing.
            self.metrics.signin("failed")
            _signin_event(
                logging.WARNING,
                "failed",
                clip(username, _LOGGED_USERNAME_LENGTH),
                address,
                reason="username_too_long",
            )
            return None
        if self.throttle is None:
            return await self._check_password(username, password, address)
        async with self.throttle.slot(username, address):
            return await self._check_password(username, password, address)

    async def _check_password(self, username: str, password: str, address: str) -> User | None:
        throttle = self.throttle
        attempt = None if throttle is None else await throttle.begin(username, address)
        if attempt is not None and (wait := attempt.check.retry_after) is not None:
            self.metrics.signin("throttled")
            _signin_event(logging.WARNING, "throttled", username, address, retry_after=wait)
            raise TooManyRequests(
                wait, f"Too many failed sign-in attempts; try again in {wait} seconds"
            )
        user = await self.users.find_by_username(username)
        if user is None:
            await self.passwords.verify_dummy(password)
        elif await self.passwords.verify(password, user.password_hash):
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
