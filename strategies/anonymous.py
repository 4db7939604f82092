"""AnonymousStrategy: always succeeds, with Starlette's UnauthenticatedUser.

Put it last in a chain to serve signed-in and anonymous callers on one route:
`@guard("jwt", "anonymous")` gives `request.user.is_authenticated` True for a
valid token and False otherwise. A wrong token is not an error there: the
caller is simply anonymous.

Example:

    from authkit import guard

    @guard("jwt", "anonymous")
    async def greeting(request): ...
"""

from __future__ import annotations

from typing import ClassVar

import attrs
from starlette.authentication import UnauthenticatedUser
from starlette.requests import Request

from authkit.plugin import Outcome, StrategyContext, Success

__all__ = ["AnonymousStrategy"]


@attrs.frozen
class AnonymousStrategy:
    name: ClassVar[str] = "anonymous"
    # Lets /openapi.json mark a route guarded with it as open to callers with no credential.
    openapi_allows_anonymous: ClassVar[bool] = True

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> AnonymousStrategy:
        return cls()

    async def authenticate(self, request: Request) -> Outcome:
        return Success(UnauthenticatedUser())
