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
BCRYPT_ROUNDS, when the store can write one (an `AccountStore`). The right password for a
disabled user (authkit.admin) is refused with AccountDisabled (403) after the same
check; a wrong one gets the same answer as for any other user. A name with
control characters, or a blank one, is refused before any of that with a 400
(authkit.users.names.signin_username_problem).

A username longer than MAX_SIGNIN_USERNAME_LENGTH fails at once: no account can have
it, and it is not stored (the throttle's documents), nor logged whole.

Example:

    from authkit.plugin import PasswordHasher, SignupCredentials

    service = AuthService(users=store, passwords=PasswordHasher(10))
    await service.sign_up(SignupCredentials("alice", "s3cret-pass"))
    user = await service.validate_user("alice", "s3cret-pass", address="203.0.113.9")
    # from a client that signed in before: ..., device_token=DeviceTokens.presented(request)
"""

from __future__ import annotations

import logging
from typing import Protocol

import attrs

from authkit.core.errors import (
    AccountDisabled,
    BackendUnavailable,
    ClientGone,
    Overloaded,
    TooManyRequests,
    ValidationFailed,
)
from authkit.events.bus import Event, EventBus
from authkit.ops.logs import clip
from authkit.ops.metrics import NoMetrics
from authkit.passwords.devices import DeviceTokens
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.hasher import Gone, PasswordHasher
from authkit.passwords.policy import PasswordPolicy
from authkit.passwords.signup_limit import SignupLimit
from authkit.passwords.throttle import Attempt, SigninThrottle
from authkit.users.names import UsernameRefused, canonical_username, signin_username_problem
from authkit.users.store import AccountStore, EmailUserStore, User, UserStore

__all__ = ["MAX_SIGNIN_USERNAME_LENGTH", "AuthService"]

security_log = logging.getLogger("authkit.security")
# Sign-up allows 20 characters; a store of a plugin's may hold e-mail addresses (254 at most).
MAX_SIGNIN_USERNAME_LENGTH = 256
# What a security event keeps of a username longer than that.
_LOGGED_USERNAME_LENGTH = 64

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
    # What signup asks of a new password (its length bounds are settings).
    policy: PasswordPolicy = attrs.field(factory=PasswordPolicy)
    # None: no device tokens are issued or honoured; every client is an untrusted source.
    devices: DeviceTokens | None = None
    # Lifecycle events (authkit.events): `signup` once a user is stored.
    events: EventBus = attrs.field(factory=EventBus)

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
        await _stop_if_gone(client)
        # The address's limit first, no place in the password queue held: a sign-up it
        # refuses costs the queue nothing. Then a place: sign-ups may fill only part of the
        # queue, and go after sign-ins, so a flood of them leaves room for, and does not
        # delay, people signing in. A sign-up shed or abandoned is uncounted.
        limit = self.signup_limit
        record = None if limit is None else await limit.begin(address)
        try:
            with self.passwords.pool.reserve(share=SIGNUP_SHARE, priority=SIGNUP_PRIORITY):
                await _stop_if_gone(client)
                unless = _unless_gone(client)
                password_hash = await self.passwords.hash(credentials.password, **unless)
                await _stop_if_gone(client)
        except (Overloaded, ClientGone):
            if limit is not None:
                await limit.take_back(record)
            raise
        user = await self._create(credentials, password_hash)
        security_log.info(
            "signup",
            extra={"fields": {"event": "signup", "user": user.username, "user_id": user.id}},
        )
        await self.events.emit(Event("signup", user.id, {"username": user.username}))
        return user

    async def _create(self, credentials: SignupCredentials, password_hash: str) -> User:
        if credentials.email is None:
            return await self.users.create(credentials.username, password_hash)
        if not isinstance(self.users, EmailUserStore):
            raise ValidationFailed(["email is not accepted: this user store keeps none"])
        return await self.users.create_with_email(
            credentials.username, password_hash, credentials.email
        )

    async def validate_user(
        self,
        username: str,
        password: str,
        *,
        address: str = "unknown",
        device_token: str | None = None,
        client: Client | None = None,
    ) -> User | None:
        """The user when the password is right, None when not; TooManyRequests when throttled,
        ValidationFailed (400) for a name no user can have (control characters, blank),
        Overloaded when too much password work waits, ClientGone when `client` left first.

        `device_token` is what the client presented (`DeviceTokens.presented`): when it is
        valid for the account the name finds, the attempt counts against that device's
        limit alone.
        """
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
        if (problem := signin_username_problem(username)) is not None:
            raise ValidationFailed([problem])
        account = throttle_account(username)
        # The account first: a device token is bound to the account it was given for, by
        # id, so a token from one account never passes for another (two legacy accounts
        # whose names differ in case share a canonical name, never an id).
        user = await self.users.find_by_username(username)
        device = None
        if self.devices is not None and user is not None:
            device = self.devices.verify(device_token, user.id)
        if self.throttle is None:
            return await self._check_password(username, password, address, user, device, client)
        async with self.throttle.slot(account, address, device):
            return await self._check_password(username, password, address, user, device, client)

    async def _check_password(
        self,
        username: str,
        password: str,
        address: str,
        user: User | None,
        device: str | None,
        client: Client | None,
    ) -> User | None:
        throttle = self.throttle
        unless = _unless_gone(client)
        await _stop_if_gone(client)
        account = throttle_account(username)
        # The throttle first, no place in the password queue held: an attempt it refuses
        # costs the queue nothing, so a client refused with 429 cannot crowd out others.
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
        try:
            with self.passwords.pool.reserve():
                await _stop_if_gone(client)
                return await self._settle(
                    username, password, address, user, attempt, device, unless
                )
        except (Overloaded, ClientGone) as exc:
            # Shed, or its client left: no password was judged, so the attempt is no
            # failure and no success; it is taken back.
            if throttle is not None and attempt is not None:
                await throttle.withdraw(attempt)
            if isinstance(exc, Overloaded):
                self.metrics.signin("shed")
                _signin_event(logging.WARNING, "shed", username, address)
            raise

    async def _settle(
        self,
        username: str,
        password: str,
        address: str,
        user: User | None,
        attempt: Attempt | None,
        device: str | None,
        unless: dict[str, Gone],
    ) -> User | None:
        """Check the password (its place in the queue held) and record what it was."""
        throttle = self.throttle
        secret = None
        if user is None:
            await self.passwords.verify_dummy(password, **unless)
        else:
            legacy = not user.password_nfc
            secret = await self.passwords.match(
                password, user.password_hash, legacy=legacy, **unless
            )
        if user is not None and secret is not None:
            if throttle is not None and attempt is not None:
                await throttle.succeeded(attempt)
            if user.disabled:
                # Told only to whoever knows the password: the owner learns why, a thief
                # that the password is worth nothing here.
                self.metrics.signin("failed")
                _signin_event(logging.WARNING, "failed", username, address, reason="disabled")
                raise AccountDisabled()
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


async def _stop_if_gone(client: Client | None) -> None:
    """ClientGone when the request's client has gone away: what it asked for is not done."""
    if client is not None and await client.has_gone():
        raise ClientGone()


def _unless_gone(client: Client | None) -> dict[str, Gone]:
    """The hasher's `unless` for `client`'s request; none without a client, since a hasher
    of one's own (a test's, a plugin's) may not take it."""
    return {} if client is None else {"unless": client.gone}


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
