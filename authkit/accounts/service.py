"""EmailService: a user's address, its verification, and the mail limits.

- At sign-up with an `email`, and whenever a user sets or changes theirs, a link is
  mailed to the address; following it verifies the address.
- A user with a verified address who changes it keeps the old one (it still receives
  password resets) until the new one is verified; one with none, or an unverified
  one, gets the new one at once, unverified.
- An address that is another user's verified one is taken all the same, as a claim
  (authkit.accounts.store): the answer is the one a free address gets, and the mail
  goes to its owner as a notice (`email_in_use`) instead of a link. Asking for an
  address tells nobody whether it is registered.
- Mail is limited per user and per address (AUTHKIT_MAIL_LIMIT), and per client
  (AUTHKIT_MAIL_LIMIT_ADDRESS): nobody can use authkit to flood an inbox.
- Confirming a link twice answers as the first time did; a link for an address the
  user has since replaced confirms nothing.

Example:

    import attrs
    from authkit.accounts.feature import build_accounts

    public = attrs.evolve(settings.server, public_url="https://auth.example.com")
    accounts = build_accounts(attrs.evolve(settings, server=public), db, store, service, lifecycle)
    user = await store.create("alice", "$2b$04$" + "x" * 53)
    state = await accounts.emails.change_email(user.id, "Alice@Example.com", client="203.0.113.9")
    # {"email": "Alice@example.com", "emailVerified": False, ...}; a link is mailed
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs

from authkit.accounts.mailer import AccountMailer
from authkit.accounts.pages import LinkFor
from authkit.accounts.settings import AccountSettings
from authkit.accounts.store import AccountRecords
from authkit.accounts.tokens import MailTokens
from authkit.core.errors import (
    BackendUnavailable,
    BadRequest,
    EmailAlreadyInUse,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from authkit.events.bus import Event, EventBus
from authkit.passwords.signup_limit import SignupLimit
from authkit.users.emails import EmailRefused, canonical_email, email_key
from authkit.users.store import MongoUserStore, User

__all__ = ["EmailService", "MailLimits", "email_state", "now_utc"]

security_log = logging.getLogger("authkit.security")
VERIFY = "verify_email"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


class InvalidMailToken(BadRequest):
    default_message = "The link is invalid or has expired"


def email_state(user: User) -> dict[str, Any]:
    """What a client sees of a user's address (GET /auth/email and the answers that change it)."""
    return {
        "email": user.email,
        "emailVerified": user.email is not None and user.email_verified,
        "pendingEmail": user.pending_email,
    }


def parse_email(value: object, field: str = "email") -> str:
    if value is None:
        raise ValidationFailed([f"{field} is missing"])
    try:
        return canonical_email(value)
    except EmailRefused as refused:
        raise ValidationFailed([str(refused).replace("email", field, 1)]) from None


@attrs.frozen
class MailLimits:
    """Counts of mail: per recipient (user and address) and per client address."""

    per_recipient: SignupLimit
    per_client: SignupLimit

    async def ensure_indexes(self) -> None:
        await self.per_recipient.ensure_indexes()
        await self.per_client.ensure_indexes()

    async def count(self, client: str, *recipients: str) -> None:
        """Count one mail (or one request that may send one); TooManyRequests (counting
        nothing) when any of the limits is reached."""
        taken = [await self.per_client.begin(f"client:{client}")]
        try:
            for recipient in recipients:
                taken.append(await self.per_recipient.begin(recipient))
        except Exception:
            for record in taken:
                await self.per_client.take_back(record)  # one collection holds both counts
            raise


@attrs.frozen
class EmailService:
    users: MongoUserStore
    records: AccountRecords
    tokens: MailTokens
    mailer: AccountMailer
    limits: MailLimits
    settings: AccountSettings
    clock: Callable[[], datetime] = now_utc
    # Lifecycle events (authkit.events): `email_verified` once an address is confirmed.
    events: EventBus = attrs.field(factory=EventBus)

    async def _user(self, user_id: str) -> User:
        user = await self.users.find_by_id(user_id)
        if user is None:
            raise NotFound("User not found")
        return user

    async def state(self, user_id: str) -> dict[str, Any]:
        return email_state(await self._user(user_id))

    async def _send_verification(self, user: User, email: str, client: str) -> None:
        await self.limits.count(client, f"user:{user.id}", f"email:{email_key(email)}")
        ttl = self.settings.verify_ttl
        owner = await self.records.verified_owner(email)
        if owner is not None and owner != user.id:
            # A token that names nobody, never mailed: both paths do the same work, so the
            # answer's timing does not tell either.
            await self.tokens.issue(VERIFY, None, email, ttl, self.clock())
            self.mailer.send_notice("email_in_use", user, email)
            _event("address in use: its owner notified", "email_in_use_notice", user.id)
            return
        token = await self.tokens.issue(VERIFY, user.id, email, ttl, self.clock())
        self.mailer.send(VERIFY, user, email, token, ttl)
        _event("verification mail queued", "verification_sent", user.id)

    def ready(self) -> None:
        """MailNotConfigured (503) when no link can be mailed: checked before a sign-up
        with an `email` makes its account."""
        self.mailer.require_public_url()

    async def after_signup(self, user: User, client: str) -> None:
        """Mail the new user's address its link (sign-up with `email`)."""
        if user.email is None:
            return
        try:
            await self._send_verification(user, user.email, client)
        except (TooManyRequests, BackendUnavailable) as exc:
            # The account exists now: its sign-up succeeded. The link can be asked for again.
            reason = "throttled" if isinstance(exc, TooManyRequests) else "database"
            _event("verification mail not sent", "verification_skipped", user.id, reason=reason)

    async def change_email(self, user_id: str, value: object, *, client: str) -> dict[str, Any]:
        email = parse_email(value)
        self.mailer.require_public_url()
        user = await self._user(user_id)
        await self.users.email_keys.repair_once()  # no unique index from before in the way
        outcome = await self.records.request_email(user.id, email)
        if outcome == "no_user":
            raise NotFound("User not found")
        user = await self._user(user_id)
        if outcome != "unchanged":
            _event("email change requested", "email_change_requested", user.id, outcome=outcome)
            await self._send_verification(user, email, client)
        return email_state(user)

    async def resend(self, user_id: str, *, client: str) -> dict[str, Any]:
        """Mail the link again: to the pending address, else to an unverified current one."""
        self.mailer.require_public_url()
        user = await self._user(user_id)
        target = user.pending_email or (None if user.email_verified else user.email)
        if target is None:
            message = "There is no address to verify" if user.email else "You have no email address"
            raise ValidationFailed([message])
        await self._send_verification(user, target, client)
        return email_state(user)

    async def confirm(self, token: object) -> dict[str, Any]:
        """Verify the address the token was mailed to; InvalidMailToken (400) for a token
        that is unknown, expired, or for an address the user no longer has."""
        if not isinstance(token, str):
            raise ValidationFailed(["token must be a string"])
        now = self.clock()
        doc = await self.tokens.use(VERIFY, token, now)
        if doc is None:
            return await self._confirmed_before(token, now)
        try:
            confirmed = await self.records.confirm(doc["user_id"], doc["email"])
        except EmailAlreadyInUse:
            _event("email verification refused", "email_verify_refused", doc["user_id"])
            raise
        if not confirmed:
            raise InvalidMailToken()
        # The claims the verification dropped must not come back with the links sent for them.
        await self.tokens.withdraw_claims(VERIFY, doc["email"], doc["user_id"])
        _event("email verified", "email_verified", doc["user_id"])
        await self.events.emit(Event("email_verified", doc["user_id"], {"email": doc["email"]}))
        return email_state(await self._user(doc["user_id"]))

    async def link_for(self, token: str | None) -> LinkFor | None:
        """Whose account a live verification token is for, and its address: what the page
        the link opens says before anyone confirms. None when the token is not live."""
        if token is None:
            return None
        now = self.clock()
        doc = await self.tokens.peek(VERIFY, token, now)
        if doc is not None:
            user = await self.users.find_by_id(doc["user_id"])
            return None if user is None else LinkFor(user.username, doc["email"])
        confirmed = await self._confirmed_by(token, now)
        if confirmed is None or confirmed.email is None:
            return None
        return LinkFor(confirmed.username, confirmed.email, confirmed=True)

    async def _confirmed_before(self, token: str, now: datetime) -> dict[str, Any]:
        # A second click on the same link: the same answer, as long as it still holds.
        user = await self._confirmed_by(token, now)
        if user is None:
            raise InvalidMailToken()
        return email_state(user)

    async def _confirmed_by(self, token: str, now: datetime) -> User | None:
        """The user a used, unexpired token verified the address of, if it is theirs still."""
        doc = await self.tokens.used(VERIFY, token, now)
        if doc is None or not isinstance(doc.get("user_id"), str):
            return None
        user = await self.users.find_by_id(doc["user_id"])
        if user is None or user.email != doc["email"] or not user.email_verified:
            return None
        return user


def _event(message: str, event: str, user_id: str | None, **more: object) -> None:
    fields = {"event": event, "user_id": user_id, **more}
    security_log.info(message, extra={"fields": fields})
