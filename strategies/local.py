"""LocalStrategy: username and password from a JSON or form body (passport-local's job).

What a failure looks like follows the contract: missing or non-string
credentials get a bare 401 "Unauthorized" (passport-local's "Missing
credentials"); an unknown user or a wrong password gets "Invalid
credentials", identical in body and, through a dummy bcrypt check, in time.
Too many failures for the account or the client address (an IPv6 client's
/64) get 429 (see authkit.passwords.throttle); behind a proxy, name it in
AUTHKIT_TRUSTED_PROXIES so the address is the client's, not the proxy's. A
client that presents a device token (the `authkit_device` cookie or
`Authkit-Device` header a sign-in gave it) has its own allowance instead.

Example:

    registry.use(LocalStrategy(service, max_body_bytes=16384))
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from starlette.requests import Request

from authkit.plugin import (
    AuthenticatedUser,
    AuthService,
    ClientConnection,
    DeviceTokens,
    Fail,
    Outcome,
    StrategyContext,
    Success,
    is_clean_text,
    read_fields,
    throttle_key,
)

__all__ = ["LocalStrategy"]

_INVALID = Fail(challenge='Form realm="authkit"', message="Invalid credentials")
_MISSING = Fail(challenge='Form realm="authkit"')


@attrs.frozen
class LocalStrategy:
    name: ClassVar[str] = "local"

    service: AuthService
    max_body_bytes: int = 16 * 1024

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> LocalStrategy:
        return cls(ctx.service, ctx.max_body_bytes)

    async def authenticate(self, request: Request) -> Outcome:
        fields = await read_fields(request, self.max_body_bytes)
        username, password = fields.get("username"), fields.get("password")
        if not isinstance(password, str) or not password or not is_clean_text(password):
            return _MISSING
        if isinstance(username, (int, float)) and not isinstance(username, bool):
            # mongoose casts a JSON number to a string before querying, so the reference
            # answers it as an unknown user; so do we, after the same dummy bcrypt check.
            username = str(username)
        if not isinstance(username, str) or not username or not is_clean_text(username):
            return _MISSING
        address = throttle_key(request.scope)
        user = await self.service.validate_user(
            username,
            password,
            address=address,
            device_token=DeviceTokens.presented(request),
            client=ClientConnection(request),
        )
        if user is None:
            return _INVALID
        # The token version and roles travel to the sign-in route, which puts them in the
        # access token.
        claims = {"token_version": user.token_version, "roles": list(user.roles)}
        return Success(AuthenticatedUser(user.id, user.username, claims))
