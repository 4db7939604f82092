"""Administration: what an administrator may do to a user, for the routes and the CLI alike.

Each action is logged on `authkit.security` with who did it (`by`: the administrator's user
id, or `cli`) and emitted as a lifecycle event (authkit.events): `user_created`,
`user_disabled`, `user_enabled`, `roles_changed`, `lockout_cleared`, `sessions_ended`,
`password_set`. Disabling a user, and setting their password, also ends every session
of theirs: their refresh tokens are revoked and, with revocation checks, their access
tokens refused at once. An administrator cannot disable themselves or take the admin
role from themselves through the API, so that the last one cannot lock everybody out by
a slip; the CLI, run by whoever holds the database, can.

Example:

    from authkit.passwords.hasher import PasswordHasher
    from authkit.passwords.throttle import SigninThrottle

    admin = Administration(
        store, UserDirectory(db["users"]), lifecycle, PasswordHasher(4),
        SigninThrottle(db["signin_failures"], per_account=None, per_address=None),
    )
    user = await admin.create("alice", "s3cret-pass", roles=("editor",), by="cli")
    await admin.disable(user.id, by="cli")
    assert (await admin.show(user.id)).disabled
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from authkit.admin.store import UserDirectory
from authkit.core.errors import Conflict, NotFound, ValidationFailed
from authkit.events.bus import Event, EventBus
from authkit.passwords.dto import SignupCredentials, password_problems
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.policy import PasswordPolicy
from authkit.passwords.service import throttle_account
from authkit.passwords.throttle import SigninThrottle
from authkit.users.store import MongoUserStore, User

__all__ = ["Administration", "SessionEnder", "UserDirectory"]

security_log = logging.getLogger("authkit.security")


class SessionEnder(Protocol):
    """What ends every session of a user (authkit.sessions.lifecycle.TokenLifecycle)."""

    async def end_every_session(self, user_id: str) -> int: ...


@attrs.frozen
class Administration:
    users: MongoUserStore
    directory: UserDirectory
    sessions: SessionEnder
    passwords: PasswordHasher
    throttle: SigninThrottle
    policy: PasswordPolicy = attrs.field(factory=PasswordPolicy)
    events: EventBus = attrs.field(factory=EventBus)
    admin_role: str = "admin"
    # Tells the user's verified address of a password set for them (authkit.accounts);
    # None: no mail (the CLI, which exits before a mail would go out).
    password_notice: Callable[[User], None] | None = None

    async def show(self, user_id: str) -> User:
        user = await self.users.find_by_id(user_id)
        if user is None:
            raise NotFound("User not found")
        return user

    async def page(
        self, *, search: str | None = None, after: str | None = None, limit: int = 20
    ) -> tuple[list[User], str | None]:
        return await self.directory.page(search=search, after=after, limit=limit)

    async def create(
        self, username: str, password: str, *, roles: tuple[str, ...] = (), by: str
    ) -> User:
        """A new user, under sign-up's rules (ValidationFailed, UserAlreadyExists)."""
        credentials = SignupCredentials.from_body(
            {"username": username, "password": password}, self.policy
        )
        password_hash = await self.passwords.hash(credentials.password)
        user = await self.users.create(credentials.username, password_hash, roles=roles)
        await self._done("user_created", user, by, username=user.username, roles=list(roles))
        return user

    async def disable(self, user_id: str, *, by: str) -> User:
        if user_id == by:
            raise Conflict("You cannot disable your own account")
        user = _found(await self.directory.set_disabled(user_id, True))
        # After the flag: a refresh racing this finds the user disabled, or its session gone.
        sessions = await self.sessions.end_every_session(user.id)
        await self._done("user_disabled", user, by, sessions=sessions)
        return user

    async def enable(self, user_id: str, *, by: str) -> User:
        user = _found(await self.directory.set_disabled(user_id, False))
        await self._done("user_enabled", user, by)
        return user

    async def set_roles(self, user_id: str, roles: tuple[str, ...], *, by: str) -> User:
        if user_id == by and self.admin_role not in roles:
            raise Conflict(f"You cannot remove the {self.admin_role} role from yourself")
        user = _found(await self.directory.set_roles(user_id, roles))
        await self._done("roles_changed", user, by, roles=list(user.roles))
        return user

    async def clear_lockout(self, user_id: str, *, by: str) -> int:
        """Forget the user's failed sign-ins, from every address; how many there were."""
        user = await self.show(user_id)
        cleared = await self.throttle.clear_account(throttle_account(user.username))
        await self._done("lockout_cleared", user, by, failures=cleared)
        return cleared

    async def end_sessions(self, user_id: str, *, by: str) -> int:
        user = await self.show(user_id)
        sessions = await self.sessions.end_every_session(user.id)
        await self._done("sessions_ended", user, by, sessions=sessions)
        return sessions

    async def set_password(self, user_id: str, password: str, *, by: str) -> User:
        """A new password, under sign-up's policy; every session of the user ends."""
        user = await self.show(user_id)
        # The password's rules alone: a name the NestJS app let in stays as it is.
        problems = password_problems(password, self.policy, username=user.username)
        if problems:
            raise ValidationFailed(problems)
        password_hash = await self.passwords.hash(password)
        user = _found(await self.directory.set_password_hash(user.id, password_hash))
        sessions = await self.sessions.end_every_session(user.id)
        if self.password_notice is not None:
            self.password_notice(user)
        await self._done("password_set", user, by, sessions=sessions)
        return user

    async def _done(self, name: str, user: User, by: str, **data: Any) -> None:
        fields = {"event": f"admin_{name}", "user_id": user.id, "by": by, **data}
        security_log.info(f"admin: {name.replace('_', ' ')}", extra={"fields": fields})
        await self.events.emit(Event(name, user.id, {"by": by, **data}))


def _found(user: User | None) -> User:
    if user is None:
        raise NotFound("User not found")
    return user
