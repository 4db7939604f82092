"""MFAGate: what /auth/signin asks once the password was right (authkit.passwords.routes
SignInGate): a user with a second factor gets a challenge instead of tokens.

    200 {"mfa_required": true, "mfa_token": "...", "methods": ["totp", ...], "expires_in": 300}

Example:

    from authkit.mfa.factors import build_second_factors

    factors = build_second_factors(settings.mfa, settings.jwt.secret, db, clock=time.time)
    gate = MFAGate(factors.policy, factors.challenges)
    await gate.challenge("6650c0ffee0123456789abcd")  # None: no second factor, tokens as usual
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs

from authkit.http.openapi import json_response
from authkit.mfa.challenges import MFAChallenges
from authkit.mfa.policy import MFAPolicy

__all__ = ["CHALLENGE_SCHEMA", "MFAGate"]

security_log = logging.getLogger("authkit.security")

CHALLENGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["mfa_required", "mfa_token", "methods", "expires_in"],
    "properties": {
        "mfa_required": {"type": "boolean", "enum": [True]},
        "mfa_token": {
            "type": "string",
            "description": "single use; send it to POST /auth/mfa/verify with a code",
        },
        "methods": {
            "type": "array",
            "items": {"type": "string", "enum": ["totp", "recovery_code", "passkey"]},
        },
        "expires_in": {"type": "integer", "description": "seconds the mfa_token stays valid"},
    },
}


@attrs.frozen
class MFAGate:
    policy: MFAPolicy
    challenges: MFAChallenges
    openapi_response: Mapping[str, Any] = json_response(
        "The password was right and the user has a second factor: no tokens yet; complete "
        "the sign-in at POST /auth/mfa/verify",
        CHALLENGE_SCHEMA,
    )

    async def challenge(self, user_id: str) -> Mapping[str, Any] | None:
        methods = await self.policy.required(user_id)
        if not methods:
            return None
        token = await self.challenges.open(user_id)
        security_log.info(
            "second factor asked",
            extra={"fields": {"event": "mfa_challenge", "user_id": user_id, "methods": methods}},
        )
        return {
            "mfa_required": True,
            "mfa_token": token,
            "methods": methods,
            "expires_in": self.challenges.ttl_seconds,
        }
