"""Completing a sign-in with a second factor, and stepping up.

    POST /auth/mfa/verify  {"mfa_token", "code" | "recovery_code"} -> 201 what /auth/signin
                           gives a user without MFA (tokens, session, device token)
    POST /auth/step-up     Bearer, {"password" | "code"} -> 200 {"accessToken"}, auth_time now

A wrong code is a 401 and leaves the challenge usable until its attempts run out (429) or
it expires; a right one uses the challenge up, once, however many requests race for it.

Example:

    from authkit.mfa.factors import build_second_factors
    from authkit.sessions.routes import RefreshDelivery

    factors = build_second_factors(settings.mfa, settings.jwt.secret, db, clock=time.time)
    routes = sign_in_routes(factors, lifecycle, RefreshDelivery(), service, max_body_bytes=16384)
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.core.errors import AuthenticationFailed, ValidationFailed
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.client_address import throttle_key
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, fields_body, json_response
from authkit.http.responses import JSON
from authkit.mfa.challenges import challenge_key
from authkit.mfa.factors import SecondFactors, one_proof, text_field
from authkit.mfa.step_up import refuse_revoked
from authkit.passwords.devices import DEVICE_RESPONSE_HEADERS
from authkit.passwords.service import AuthService
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import NO_STORE, PAIR_SCHEMA, RefreshDelivery, user_agent_of

__all__ = ["sign_in_routes"]

security_log = logging.getLogger("authkit.security")

_CODE = {"type": "string", "pattern": "^[0-9]{6}$", "description": "the authenticator's code"}
_VERIFY_BODY = fields_body(
    {
        "type": "object",
        "required": ["mfa_token"],
        "properties": {
            "mfa_token": {"type": "string", "description": "what /auth/signin answered"},
            "code": _CODE,
            "recovery_code": {"type": "string", "description": "one of the recovery codes"},
        },
        "description": "the mfa_token and exactly one of code, recovery_code",
    },
    required=True,
)
_STEP_UP_BODY = fields_body(
    {
        "type": "object",
        "properties": {"password": {"type": "string"}, "code": _CODE},
        "description": "exactly one of password, code (a user with TOTP on sends code)",
    },
    required=True,
)
_ACCESS_SCHEMA = {
    "type": "object",
    "required": ["accessToken"],
    "properties": {"accessToken": {"type": "string"}},
}


class ChallengeFailed(AuthenticationFailed):
    default_message = "Invalid or expired MFA challenge"


class WrongCode(AuthenticationFailed):
    default_message = "Invalid code"


def sign_in_routes(
    factors: SecondFactors,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    service: AuthService,
    *,
    max_body_bytes: int,
) -> list[Route]:
    async def judge(user_id: str, kind: str, proof: str) -> bool:
        if kind == "code":
            return await factors.totp.verify(user_id, proof)
        methods = await factors.policy.required(user_id)
        return "recovery_code" in methods and await factors.recovery.use(user_id, proof)

    @describe(
        operation_id="verifyMFA",
        summary="Complete a sign-in with a TOTP code or a recovery code",
        request_body=_VERIFY_BODY,
        responses={
            201: {**json_response("Signed in", PAIR_SCHEMA), "headers": DEVICE_RESPONSE_HEADERS},
            **error_responses(400, 401, 403, 413, 429, 503),
        },
        tags=["mfa"],
    )
    async def verify(request: Request) -> Response:
        delivery.refuse_cross_site(request)
        fields = await read_fields(request, max_body_bytes, require_object=True)
        token = text_field(fields, "mfa_token")
        if token is None:
            raise ValidationFailed(["mfa_token is missing"])
        kind, proof = one_proof(fields, "code", "recovery_code")
        key = challenge_key(token)
        user_id = None if key is None else await factors.challenges.peek(token)
        if key is None or user_id is None:
            raise ChallengeFailed()
        scope = "challenge:" + key
        if not await factors.attempts.check(user_id, scope, lambda: judge(user_id, kind, proof)):
            raise WrongCode()
        # The code was right; of requests racing with right codes, one uses the challenge.
        if await factors.challenges.consume(token) != user_id:
            raise ChallengeFailed()
        user = await lifecycle.users.find_by_id(user_id)
        if user is None:
            raise ChallengeFailed()
        pair = await lifecycle.sign_in(user.id, user.username, user_agent=user_agent_of(request))
        security_log.info(
            "signed in with a second factor",
            extra={"fields": {"event": "mfa_signin", "user_id": user.id, "method": kind}},
        )
        response = delivery.response(pair, 201)
        if service.devices is not None:
            service.devices.remember(request, response, user.id)
        return response

    @describe(
        operation_id="stepUp",
        summary="Prove who you are again (password or TOTP code) for a fresh access token",
        request_body=_STEP_UP_BODY,
        responses={
            200: json_response("A fresh access token (auth_time now)", _ACCESS_SCHEMA),
            **error_responses(400, 401, 413, 429, 503),
        },
        tags=["mfa"],
    )
    @guard("jwt")
    async def step_up(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        fields: dict[str, Any] = await read_fields(request, max_body_bytes, require_object=True)
        kind, proof = one_proof(fields, "password", "code")
        if kind == "code":
            right = await factors.attempts.check(
                principal.id, "step-up", lambda: factors.totp.verify(principal.id, proof)
            )
        elif await factors.policy.factors(principal.id):
            # A passkey counts too: the password alone is what any factor is there to be more
            # than (a passkey steps up at POST /auth/passkeys/step-up).
            raise ValidationFailed(
                ["this account has a second factor: send a TOTP code, or step up with a passkey"]
            )
        else:
            user = await service.validate_user(
                principal.username, proof, address=throttle_key(request.scope)
            )
            right = user is not None and user.id == principal.id
        if not right:
            raise WrongCode("Invalid credentials" if kind == "password" else None)
        security_log.info(
            "stepped up",
            extra={"fields": {"event": "step_up", "user_id": principal.id, "method": kind}},
        )
        await refuse_revoked(lifecycle, principal.claims)
        token = lifecycle.reauthenticated(principal.claims)
        return JSON({"accessToken": token}, status_code=200, headers=NO_STORE)

    return [
        Route("/auth/mfa/verify", Endpoint(verify), methods=["POST"]),
        Route("/auth/step-up", Endpoint(step_up), methods=["POST"]),
    ]
