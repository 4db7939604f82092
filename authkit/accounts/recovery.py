"""PasswordService: forgot-password, reset, change with the current password, and deleting
one's own account.

- Forgot-password answers the same (status, body, and the same work, so the same
  time) for an address no account has, an unverified one and a verified one: the
  address is parsed and counted against the mail limits, looked up once, and a
  token is made, hashed and stored in every case (for nobody, when nobody has it:
  it can reset nothing). Only a verified address receives the mail, queued in the
  background, so the mail server's speed shows in no answer.
- A reset token is used once, expires (AUTHKIT_PASSWORD_RESET_TTL), and dies when
  the password changes (its mark, authkit.accounts.tokens). A reset ends every
  session and outdates every access token (the token version), and withdraws the
  user's other reset tokens.
- A change needs the current password (checked as a sign-in is: throttled, one
  bcrypt check) and ends the user's other sessions; the caller's own session goes on
  with the new access token the answer carries.
- Deleting an account needs the password too; the user, their sessions, refresh
  tokens, mail tokens and linked identities go.

Example:

    import attrs
    from authkit.accounts.feature import build_accounts

    public = attrs.evolve(settings.server, public_url="https://auth.example.com")
    accounts = build_accounts(attrs.evolve(settings, server=public), db, store, service, lifecycle)
    await accounts.passwords.forgot("alice@example.com", client="203.0.113.9")  # for anyone
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from authkit.accounts.mailer import AccountMailer
from authkit.accounts.service import InvalidMailToken, MailLimits, now_utc, parse_email
from authkit.accounts.settings import AccountSettings
from authkit.accounts.store import AccountRecords
from authkit.accounts.tokens import MailTokens, password_mark
from authkit.core.errors import Conflict, ValidationFailed
from authkit.events.bus import Event
from authkit.mfa.step_up import StepUpRequired
from authkit.passwords.dto import is_clean_text, password_problems
from authkit.passwords.service import SIGNUP_PRIORITY, SIGNUP_SHARE, AuthService, Client
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.users.emails import email_key
from authkit.users.store import MongoUserStore, User

__all__ = ["PasswordService"]

security_log = logging.getLogger("authkit.security")
RESET = "reset_password"


class WrongPassword(ValidationFailed):
    def __init__(self, field: str) -> None:
        super().__init__([f"{field} is incorrect"])


@attrs.frozen
class PasswordService:
    auth: AuthService
    users: MongoUserStore
    records: AccountRecords
    tokens: MailTokens
    mailer: AccountMailer
    limits: MailLimits
    lifecycle: TokenLifecycle
    settings: AccountSettings
    clock: Callable[[], datetime] = now_utc

    async def forgot(self, value: object, *, client: str) -> None:
        email = parse_email(value)
        self.mailer.require_public_url()
        await self.limits.count(client, f"email:{email_key(email)}")
        # A user without a password (made by social sign-in) gets a link too: following it
        # sets their first one, as the mailbox proves it is them like any reset does.
        user = await self.users.find_by_verified_email(email)
        ttl = self.settings.reset_ttl
        mark = password_mark(user.password_hash) if user is not None else None
        token = await self.tokens.issue(
            RESET, user.id if user else None, email, ttl, self.clock(), mark=mark
        )
        if user is None:
            return
        self.mailer.send(RESET, user, user.email or email, token, ttl)
        _event("password reset mail queued", "password_reset_requested", user.id)

    async def _new_hash(self, password: str, user: User, client: Client | None) -> str:
        problems = password_problems(password, self.auth.policy, username=user.username)
        if problems:
            raise ValidationFailed(problems)
        hasher = self.auth.passwords
        unless = {} if client is None else {"unless": client.gone}
        with hasher.pool.reserve(share=SIGNUP_SHARE, priority=SIGNUP_PRIORITY):
            return await hasher.hash(password, **unless)

    async def reset(self, token: object, password: object, client: Client | None = None) -> None:
        if not isinstance(token, str):
            raise ValidationFailed(["token must be a string"])
        now = self.clock()
        doc = await self.tokens.peek(RESET, token, now)
        user = None if doc is None else await self.users.find_by_id(doc["user_id"])
        if (
            doc is None
            or user is None
            or doc.get("password_mark") != password_mark(user.password_hash)
            or not _still_their_address(doc.get("email"), user)
        ):
            raise InvalidMailToken()
        if not isinstance(password, str):
            raise ValidationFailed(
                password_problems(password, self.auth.policy, username=user.username)
            )
        new_hash = await self._new_hash(password, user, client)
        # The new password is acceptable: now the token is used up, by one request only.
        if await self.tokens.use(RESET, token, now) is None:
            raise InvalidMailToken()
        if not await self.records.set_password(user.id, user.password_hash, new_hash):
            raise InvalidMailToken()  # the password changed since the link was sent
        await self.tokens.withdraw(user.id, RESET)
        ended = await self.lifecycle.sign_out_all({"sub": user.id})
        self.notify_password_changed(user)
        _event("password reset", "password_reset", user.id, sessions=ended)
        await self.auth.events.emit(Event("password_reset", user.id, {"sessions": ended}))

    async def _check(
        self,
        user_id: str,
        username: str,
        password: object,
        field: str,
        address: str,
        client: Client | None,
    ) -> User:
        """The user, when `password` is theirs: a sign-in's check (throttled, counted)."""
        if not isinstance(password, str) or not is_clean_text(password):
            raise ValidationFailed([f"{field} must be a string"])
        user = await self.auth.validate_user(username, password, address=address, client=client)
        if user is None or user.id != user_id:
            raise WrongPassword(field)
        return user

    def notify_password_changed(self, user: User) -> None:
        """Tell the user's verified address (`password_changed`): someone who took the account
        over by a stolen session or a read mailbox is then seen by its owner, who can reset
        it. Also what an administrator's new password for the user sends (authkit.admin)."""
        if user.email is not None and user.email_verified and self.mailer.public_url:
            self.mailer.send_notice("password_changed", user, user.email)

    async def _prove(
        self,
        claims: dict[str, Any],
        password: object,
        field: str,
        address: str,
        client: Client | None,
        fresh: bool,
    ) -> User:
        """The caller, when they prove it is them: by their password, or, for a user who has
        none (made by social sign-in), by a recent sign-in (StepUpRequired otherwise)."""
        owner = await self.users.find_by_id(claims["sub"])
        if owner is not None and not owner.has_password:
            if not fresh:
                raise StepUpRequired()
            return owner
        return await self._check(
            claims["sub"], claims.get("username", ""), password, field, address, client
        )

    async def change(
        self,
        claims: dict[str, Any],
        current: object,
        new: object,
        *,
        address: str,
        client: Client | None = None,
        fresh: bool = False,
    ) -> str:
        """Change the password; the access token the caller's session goes on with. A user
        without one sets a first one, after a recent sign-in (`fresh`)."""
        user = await self._prove(claims, current, "currentPassword", address, client, fresh)
        if not isinstance(new, str):
            raise ValidationFailed(password_problems(new, self.auth.policy, username=user.username))
        new_hash = await self._new_hash(new, user, client)
        if not await self.records.set_password(user.id, user.password_hash, new_hash):
            raise Conflict("The password changed meanwhile; sign in again")
        await self.tokens.withdraw(user.id, RESET)
        session = claims.get("sid") if isinstance(claims.get("sid"), str) else None
        access = await self.lifecycle.sign_out_others(user.id, user.username, session)
        self.notify_password_changed(user)
        _event("password changed", "password_changed", user.id)
        await self.auth.events.emit(Event("password_changed", user.id, {}))
        return access

    async def delete(
        self,
        claims: dict[str, Any],
        password: object,
        *,
        address: str,
        client: Client | None = None,
        fresh: bool = False,
    ) -> None:
        """Delete the caller's account. The password proves it is them; a user who has none
        (made by social sign-in) proves it by a recent sign-in instead (`fresh`)."""
        user = await self._prove(claims, password, "password", address, client, fresh)
        # Sessions first: should the database fail half-way, the user is still there to
        # sign in and ask again, and nothing of theirs still works meanwhile.
        await self.lifecycle.sign_out_all({"sub": user.id})
        await self.lifecycle.forget_user(user.id)
        await self.tokens.withdraw(user.id)
        await self.records.delete_user(user.id)
        _event("account deleted", "account_deleted", user.id)
        await self.auth.events.emit(Event("account_deleted", user.id, {"username": user.username}))


def _still_their_address(mailed_to: object, user: User) -> bool:
    """Whether the link went to the verified address the user has now: one mailed to an
    address they have since left (perhaps because someone else reads it) resets nothing."""
    return (
        isinstance(mailed_to, str)
        and user.email is not None
        and user.email_verified
        and email_key(mailed_to) == email_key(user.email)
    )


def _event(message: str, event: str, user_id: str, **more: object) -> None:
    security_log.info(message, extra={"fields": {"event": event, "user_id": user_id, **more}})
