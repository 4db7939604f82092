"""AuthService: sign up and check a password. No HTTP and no database details here.

Every password check goes through `validate_user`, so every password-based
strategy (local today, HTTP Basic tomorrow) gets the same guarantees: an
unknown user costs the same bcrypt work as a wrong password, failures are
throttled per account and per address (or per trusted device: a client that
presents a valid device token, authkit.passwords.devices, is judged by its own
failures only), and each outcome is logged as a
security event on the `authkit.security` logger (never with the password).
The per-account limit counts the canonical name, so spellings of one name share it.
A successful check also upgrades a hash made at another bcrypt cost than
BCRYPT_ROUNDS, when the store can write one (an `AccountStore`). A name with
control characters, or a blank one, is refused before any of that with a 400
(authkit.users.names.signin_username_problem).

Example:

    from authkit.plugin import PasswordHasher, SignupCredentials

    service = AuthService(users=store, passwords=PasswordHasher(10))
    await service.sign_up(SignupCredentials("alice", "s3cret-pass"))
    user = await service.validate_user("alice", "s3cret-pass", address="203.0.113.9")
    # from a client that signed in before: ..., device_token=DeviceTokens.presented(request)
"""

from __future__ import annotations

import logging

import attrs

from authkit.core.errors import BackendUnavailable, TooManyRequests, ValidationFailed
from authkit.ops.metrics import NoMetrics
from authkit.passwords.devices import DeviceTokens
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.policy import PasswordPolicy
from authkit.passwords.throttle import SigninThrottle
from authkit.users.names import UsernameRefused, canonical_username, signin_username_problem
from authkit.users.store import AccountStore, User, UserStore

__all__ = ["AuthService"]

security_log = logging.getLogger("authkit.security")


@attrs.frozen
class AuthService:
    users: UserStore
    passwords: PasswordHasher
    throttle: SigninThrottle | None = None
    metrics: NoMetrics = attrs.field(factory=NoMetrics)
    # What signup asks of a new password (its length bounds are settings).
    policy: PasswordPolicy = attrs.field(factory=PasswordPolicy)
    # None: no device tokens are issued or honoured; every client is an untrusted source.
    devices: DeviceTokens | None = None

    async def sign_up(self, credentials: SignupCredentials) -> User:
        password_hash = await self.passwords.hash(credentials.password)
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
        device_token: str | None = None,
    ) -> User | None:
        """The user when the password is right, None when not; TooManyRequests when throttled,
        ValidationFailed (400) for a name no user can have (control characters, blank).

        `device_token` is what the client presented (`DeviceTokens.presented`): when it is
        valid for the account, the attempt counts against that device's limit alone.
        """
        if (problem := signin_username_problem(username)) is not None:
            raise ValidationFailed([problem])
        account = throttle_account(username)
        device = None if self.devices is None else self.devices.verify(device_token, account)
        if self.throttle is None:
            return await self._check_password(username, password, address, device)
        async with self.throttle.slot(account, address, device):
            return await self._check_password(username, password, address, device)

    async def _check_password(
        self, username: str, password: str, address: str, device: str | None
    ) -> User | None:
        throttle = self.throttle
        account = throttle_account(username)
        attempt = None if throttle is None else await throttle.begin(account, address, device)
        if attempt is not None and (wait := attempt.check.retry_after) is not None:
            self.metrics.signin("throttled")
            _signin_event(
                logging.WARNING,
                "throttled",
                username,
                address,
                retry_after=wait,
                trusted_device=attempt.device is not None,
            )
            raise TooManyRequests(
                wait, f"Too many failed sign-in attempts; try again in {wait} seconds"
            )
        user = await self.users.find_by_username(username)
        secret = None
        if user is None:
            await self.passwords.verify_dummy(password)
        else:
            legacy = not user.password_nfc
            secret = await self.passwords.match(password, user.password_hash, legacy=legacy)
        if user is not None and secret is not None:
            if throttle is not None and attempt is not None:
                await throttle.succeeded(attempt)
            self.metrics.signin("succeeded")
            _signin_event(logging.INFO, "ok", username, address, trusted_device=device is not None)
            return await self._upgrade_hash(user, secret)
        self.metrics.signin("failed")
        reason = "unknown_user" if user is None else "wrong_password"
        if user is not None and self.passwords.refused_cost(user.password_hash) is not None:
            reason = "hash_cost_over_cap"
        _signin_event(
            logging.WARNING,
            "failed",
            username,
            address,
            reason=reason,
            trusted_device=device is not None,
        )
        if throttle is not None and attempt is not None:
            await throttle.failed(attempt)  # its record, written before the check, stays
        return None

    async def _upgrade_hash(self, user: User, secret: bytes) -> User:
        """Rehash at BCRYPT_ROUNDS, from the bytes that matched, a hash made at another cost;
        the sign-in succeeds either way."""
        if not self.passwords.needs_rehash(user.password_hash) or not isinstance(
            self.users, AccountStore
        ):
            return user
        new_hash = await self.passwords.rehash(secret)
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


def throttle_account(username: str) -> str:
    """The account the sign-in limits count for `username`: its canonical form, so `alice`,
    `ALICE` and `alice ` share one limit (they find one user); a name with no canonical
    form (found by exact match only) counts as itself."""
    try:
        return canonical_username(username)
    except UsernameRefused:
        return username


def _signin_event(level: int, outcome: str, user: str, address: str, **more: object) -> None:
    """`signin <outcome>` on the security log, as event `signin_<outcome>`."""
    fields = {"event": f"signin_{outcome}", "user": user, "address": address, **more}
    security_log.log(level, f"signin {outcome}", extra={"fields": fields})
