"""AuthService: sign up, check a password, sign in. No HTTP and no database details here.

Example:

    service = AuthService(users=store, passwords=PasswordHasher(10), tokens=issuer)
    await service.sign_up(SignupCredentials("alice", "s3cret-pass"))
    user = await service.validate_user("alice", "s3cret-pass")      # None when wrong
    body = service.sign_in(user_id=user.id, username=user.username)  # {"accessToken": ...}
"""

from __future__ import annotations

import attrs

from authkit.dto import SignupCredentials
from authkit.passwords import PasswordHasher
from authkit.tokens import TokenIssuer
from authkit.users import User, UserStore

__all__ = ["AuthService"]


@attrs.frozen
class AuthService:
    users: UserStore
    passwords: PasswordHasher
    tokens: TokenIssuer

    async def sign_up(self, credentials: SignupCredentials) -> User:
        password_hash = await self.passwords.hash(credentials.password)
        return await self.users.create(credentials.username, password_hash)

    async def validate_user(self, username: str, password: str) -> User | None:
        user = await self.users.find_by_username(username)
        if user is None:
            await self.passwords.verify_dummy(password)
            return None
        return user if await self.passwords.verify(password, user.password_hash) else None

    def sign_in(self, *, user_id: str, username: str) -> dict[str, str]:
        return {"accessToken": self.tokens.issue(user_id=user_id, username=username)}
