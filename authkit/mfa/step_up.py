"""Step-up: a sensitive change asks for a recent proof, not just a valid access token.

Access tokens carry `auth_time` (RFC 9470's claim, in seconds): when the user last proved
who they are, by signing in (password, and second factor when they have one) or by
stepping up. A refresh keeps the session's sign-in time. `require_fresh(request)` refuses,
with 401 `step_up_required`, a token whose `auth_time` is older than
AUTHKIT_STEP_UP_MAX_AGE, or that has none (issued before authkit set it, or by another
strategy); `POST /auth/step-up` trades a password or a TOTP code for a fresh token.

Example (a route of your own):

    from authkit import guard

    @guard("jwt")
    async def change_email(request: Request) -> Response:
        require_fresh(request)
        ...
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar

import attrs
from starlette.requests import Request

from authkit.core.errors import AuthenticationFailed
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.revocation import RevocationChecker

__all__ = [
    "STEP_UP_RESPONSE",
    "StepUp",
    "StepUpRequired",
    "refuse_revoked",
    "require_fresh",
]


class StepUpRequired(AuthenticationFailed):
    error: ClassVar[str] = "step_up_required"
    default_message: ClassVar[str] = "a fresh sign-in is required"

    def __init__(self) -> None:
        super().__init__(None, ['Bearer realm="authkit", error="insufficient_user_authentication"'])


STEP_UP_RESPONSE = {
    "description": "Not authenticated, or (`error`: `step_up_required`) the sign-in is too old "
    "for this change: POST /auth/step-up first",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


@attrs.frozen
class StepUp:
    max_age: timedelta = timedelta(minutes=5)
    clock: Callable[[], float] = time.time

    def is_fresh(self, claims: dict[str, Any]) -> bool:
        auth_time = claims.get("auth_time")
        if isinstance(auth_time, bool) or not isinstance(auth_time, int):
            return False
        return self.clock() - auth_time <= self.max_age.total_seconds()

    def require(self, request: Request) -> None:
        claims = getattr(request.user, "claims", None)
        if not isinstance(claims, dict) or not self.is_fresh(claims):
            raise StepUpRequired()


def require_fresh(request: Request) -> None:
    """Raise StepUpRequired unless the request's access token proves a recent sign-in; the
    rule is the app's (`request.app.state.step_up`), AUTHKIT_STEP_UP_MAX_AGE's default
    without one."""
    rule = getattr(request.app.state, "step_up", None)
    (rule if isinstance(rule, StepUp) else StepUp()).require(request)


async def refuse_revoked(lifecycle: TokenLifecycle, claims: Mapping[str, Any]) -> None:
    """AuthenticationFailed when the token's user is gone or disabled, or its token or
    session was revoked. Step-up gives a new access token (a new `exp`): without this, with
    revocation checks off, a refused user could keep one alive by stepping up in time."""
    if await RevocationChecker(lifecycle.denylist, lifecycle.users).refusal(claims) is not None:
        raise AuthenticationFailed()
