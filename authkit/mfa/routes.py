"""Managing one's own second factors (every route Bearer; those marked need a step-up).

    GET    /auth/mfa                  -> 200 {"totp", "recovery_codes_left", "methods"}
    POST   /auth/mfa/totp             (step-up) -> 201 {"secret", "otpauth_uri", "qr_svg"}, pending
    POST   /auth/mfa/totp/confirm     {"code"} -> 200 {"recovery_codes": [ten codes]}: TOTP on
    DELETE /auth/mfa/totp             (step-up) {"code"} -> 204: TOTP off
    POST   /auth/mfa/recovery-codes   (step-up) -> 200 {"recovery_codes": [...]}, the old ones void

Example:

    from authkit.mfa.factors import build_second_factors

    factors = build_second_factors(settings.mfa, settings.jwt.secret, db, clock=time.time)
    routes = factor_routes(factors, max_body_bytes=16384)
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.core.errors import Conflict, ValidationFailed
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, fields_body, json_response
from authkit.http.responses import JSON
from authkit.mfa.factors import SecondFactors, totp_code
from authkit.mfa.recovery import new_codes
from authkit.mfa.step_up import STEP_UP_RESPONSE
from authkit.sessions.routes import NO_STORE

__all__ = ["factor_routes"]

security_log = logging.getLogger("authkit.security")

_CODE_BODY = fields_body(
    {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string", "pattern": "^[0-9]{6}$"}},
    },
    required=True,
)
_STATUS_SCHEMA = {
    "type": "object",
    "required": ["totp", "recovery_codes_left", "methods"],
    "properties": {
        "totp": {"type": "boolean"},
        "recovery_codes_left": {"type": "integer"},
        "methods": {"type": "array", "items": {"type": "string"}},
    },
}
_ENROLMENT_SCHEMA = {
    "type": "object",
    "required": ["secret", "otpauth_uri", "qr_svg"],
    "properties": {
        "secret": {"type": "string", "description": "base32, for typing into the app"},
        "otpauth_uri": {"type": "string"},
        "qr_svg": {"type": "string", "description": "the URI as an SVG QR code"},
    },
}
_CODES_SCHEMA = {
    "type": "object",
    "required": ["recovery_codes"],
    "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}}},
}
_WRONG = "code is not the authenticator's current code (or was used already)"


def _log(message: str, event: str, user_id: str) -> None:
    security_log.info(message, extra={"fields": {"event": event, "user_id": user_id}})


def factor_routes(factors: SecondFactors, *, max_body_bytes: int) -> list[Route]:
    totp, recovery, attempts = factors.totp, factors.recovery, factors.attempts

    async def code_of(request: Request) -> str:
        fields: dict[str, Any] = await read_fields(request, max_body_bytes, require_object=True)
        return totp_code(fields)

    @describe(
        operation_id="getMFA",
        summary="The caller's second factors",
        responses={200: json_response("The factors", _STATUS_SCHEMA), **error_responses(401, 503)},
        tags=["mfa"],
    )
    @guard("jwt")
    async def status(request: Request) -> Response:
        user_id = request.user.id
        record = await totp.store.get(user_id)
        methods = await factors.policy.required(user_id)
        return JSON(
            {
                "totp": record.totp is not None,
                "recovery_codes_left": record.recovery_left,
                "methods": methods,
            }
        )

    @describe(
        operation_id="enrolTOTP",
        summary="Start a TOTP enrolment: a new secret, pending until confirmed",
        responses={
            201: json_response("Scan or type it into an authenticator app", _ENROLMENT_SCHEMA),
            401: STEP_UP_RESPONSE,
            **error_responses(409, 503),
        },
        tags=["mfa"],
    )
    @guard("jwt")
    async def enrol(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        factors.step_up.require(request)
        factors.warn_if_key_is_derived()
        enrolment = await totp.enrol(principal.id, principal.username)
        if enrolment is None:
            raise Conflict("TOTP is already on; turn it off first")
        body = {
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.otpauth_uri,
            "qr_svg": enrolment.qr_svg,
        }
        return JSON(body, status_code=201, headers=NO_STORE)

    @describe(
        operation_id="confirmTOTP",
        summary="Turn TOTP on with a first code; answers the recovery codes, shown once",
        request_body=_CODE_BODY,
        responses={
            200: json_response("TOTP is on", _CODES_SCHEMA),
            **error_responses(400, 401, 409, 413, 429, 503),
        },
        tags=["mfa"],
    )
    @guard("jwt")
    async def confirm(request: Request) -> Response:
        user_id = request.user.id
        code = await code_of(request)
        record = await totp.store.get(user_id)
        if record.totp is not None or record.pending is None:
            raise Conflict("No TOTP enrolment is pending: POST /auth/mfa/totp first")
        codes = new_codes()
        hashes = recovery.hashes(user_id, codes)
        if not await attempts.check(
            user_id, "totp-confirm", lambda: totp.confirm(user_id, code, hashes)
        ):
            raise ValidationFailed([_WRONG])
        _log("totp enabled", "mfa_totp_enabled", user_id)
        return JSON({"recovery_codes": codes}, headers=NO_STORE)

    @describe(
        operation_id="disableTOTP",
        summary="Turn TOTP off, with a current code",
        request_body=_CODE_BODY,
        responses={
            204: {"description": "TOTP is off"},
            401: STEP_UP_RESPONSE,
            **error_responses(400, 409, 413, 429, 503),
        },
        tags=["mfa"],
    )
    @guard("jwt")
    async def disable(request: Request) -> Response:
        user_id = request.user.id
        factors.step_up.require(request)
        code = await code_of(request)
        if not await totp.enabled(user_id):
            raise Conflict("TOTP is not on")
        if not await attempts.check(user_id, "totp-disable", lambda: totp.verify(user_id, code)):
            raise ValidationFailed([_WRONG])
        await totp.disable(user_id)
        if not await factors.policy.factors(user_id):
            # No factor left for them to stand in for.
            await totp.store.replace_codes(user_id, [])
        _log("totp disabled", "mfa_totp_disabled", user_id)
        return Response(status_code=204)

    @describe(
        operation_id="regenerateRecoveryCodes",
        summary="Replace every recovery code with ten new ones, shown once",
        responses={
            200: json_response("The new codes; the old ones no longer work", _CODES_SCHEMA),
            401: STEP_UP_RESPONSE,
            **error_responses(409, 503),
        },
        tags=["mfa"],
    )
    @guard("jwt")
    async def regenerate(request: Request) -> Response:
        user_id = request.user.id
        factors.step_up.require(request)
        if not await factors.policy.factors(user_id):
            raise Conflict("Turn on a second factor first")
        codes = await recovery.regenerate(user_id)
        return JSON({"recovery_codes": codes}, headers=NO_STORE)

    return [
        Route("/auth/mfa", Endpoint(status), methods=["GET"]),
        Route("/auth/mfa/totp", Endpoint(enrol), methods=["POST"]),
        Route("/auth/mfa/totp", Endpoint(disable), methods=["DELETE"]),
        Route("/auth/mfa/totp/confirm", Endpoint(confirm), methods=["POST"]),
        Route("/auth/mfa/recovery-codes", Endpoint(regenerate), methods=["POST"]),
    ]
