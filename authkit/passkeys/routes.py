"""The passkey routes.

    POST   /auth/passkeys/register/options  Bearer -> PublicKeyCredentialCreationOptions (200)
    POST   /auth/passkeys/register          Bearer {credential, name} -> the passkey (201)
    GET    /auth/passkeys                   Bearer -> the caller's passkeys (200)
    PATCH  /auth/passkeys/{passkey_id}      Bearer {name} -> the passkey renamed (200)
    DELETE /auth/passkeys/{passkey_id}      Bearer (+ a fresh proof) -> deleted (204)
    POST   /auth/passkeys/signin/options    {} or {mfa_token} -> {challenge_id, options} (200),
                                            429 past AUTHKIT_PASSKEY_STARTS_PER_ADDRESS
    POST   /auth/passkeys/signin            {challenge_id, credential[, mfa_token]} -> tokens (201)
    POST   /auth/passkeys/step-up/options   Bearer -> {challenge_id, options} (200)
    POST   /auth/passkeys/step-up           Bearer {challenge_id, credential} -> a fresh
                                            {accessToken}, `auth_time` now (200)

A passkey sign-in ends as a password sign-in does: a session started by the token
lifecycle, its tokens delivered the way AUTHKIT_REFRESH_TOKENS says.

Example:

    from authkit.passkeys.ceremony import RelyingParty
    from authkit.passkeys.challenges import WebAuthnChallenges
    from authkit.passkeys.service import PasskeyService
    from authkit.passkeys.store import MongoPasskeyStore
    from authkit.sessions.routes import RefreshDelivery

    party = RelyingParty("localhost", "authkit", ["http://localhost:3000"])
    challenges = WebAuthnChallenges(db["webauthn_challenges"])
    passkeys = PasskeyService(party, challenges, MongoPasskeyStore(db["passkeys"]), store)
    routes += passkey_routes(passkeys, lifecycle, RefreshDelivery("body"), max_body_bytes=16384)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.core.errors import NotFound, ValidationFailed
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.client_address import throttle_key
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, json_response
from authkit.http.responses import JSON
from authkit.mfa.step_up import STEP_UP_RESPONSE, refuse_revoked, require_fresh
from authkit.passkeys.fields import (
    ACCESS_SCHEMA,
    CHALLENGE_SCHEMA,
    CREDENTIAL,
    NAME,
    OBJECT,
    PASSKEY_SCHEMA,
    PATH_ID,
    credential_field,
    json_body,
    optional_text,
    passkey_json,
    passkey_name,
)
from authkit.passkeys.service import PasskeyService
from authkit.passwords.devices import DeviceTokens
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import PAIR_SCHEMA, RefreshDelivery, user_agent_of

__all__ = ["FreshProof", "passkey_routes"]

# A route that needs a recent sign-in (authkit.mfa's step-up) raises when there is none.
FreshProof = Callable[[Request], None]

_PASSKEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NO_STORE = {"Cache-Control": "no-store"}
_TAGS = ["passkeys"]


def _passkey_id(request: Request) -> str:
    passkey_id: str = request.path_params["passkey_id"]
    if not _PASSKEY_ID.match(passkey_id):
        raise NotFound("Passkey not found")
    return passkey_id


def passkey_routes(
    service: PasskeyService,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    max_body_bytes: int,
    fresh_proof: FreshProof | None = None,
    devices: DeviceTokens | None = None,
) -> list[Route]:
    async def body(request: Request) -> dict[str, Any]:
        return await read_fields(request, max_body_bytes, require_object=True)

    @describe(
        operation_id="passkeyRegistrationOptions",
        summary="Options for navigator.credentials.create(): a new passkey for the caller "
        "(needs a recent sign-in)",
        responses={
            200: json_response("PublicKeyCredentialCreationOptions (JSON)", OBJECT),
            401: STEP_UP_RESPONSE,
            **error_responses(409, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def registration_options(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        # A new passkey signs in alone and steps up: a stolen access token must not add one.
        require_fresh(request)
        options = await service.registration_options(principal.id, principal.username)
        return JSON(options, headers=_NO_STORE)

    @describe(
        operation_id="registerPasskey",
        summary="Register the passkey the browser created (its challenge is used up)",
        request_body=json_body(
            {
                "type": "object",
                "required": ["credential"],
                "properties": {"credential": CREDENTIAL, "name": NAME},
            }
        ),
        responses={
            201: json_response("Registered", PASSKEY_SCHEMA),
            **error_responses(400, 401, 409, 413, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def register(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        fields = await body(request)
        name = passkey_name(fields, default="Passkey")
        key = await service.register(principal.id, credential_field(fields), name)
        return JSON(passkey_json(key), status_code=201, headers=_NO_STORE)

    @describe(
        operation_id="listPasskeys",
        summary="The caller's passkeys, oldest first",
        responses={
            200: json_response(
                "Passkeys",
                {
                    "type": "object",
                    "required": ["passkeys"],
                    "properties": {"passkeys": {"type": "array", "items": PASSKEY_SCHEMA}},
                },
            ),
            **error_responses(401, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def list_passkeys(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        keys = await service.passkeys.of_user(principal.id)
        return JSON({"passkeys": [passkey_json(k) for k in keys]}, headers=_NO_STORE)

    @describe(
        operation_id="renamePasskey",
        summary="Rename one of the caller's passkeys",
        parameters=[PATH_ID],
        request_body=json_body(
            {"type": "object", "required": ["name"], "properties": {"name": NAME}}
        ),
        responses={
            200: json_response("Renamed", PASSKEY_SCHEMA),
            **error_responses(400, 401, 404, 413, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def rename(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        passkey_id = _passkey_id(request)
        key = await service.rename(principal.id, passkey_id, passkey_name(await body(request)))
        return JSON(passkey_json(key), headers=_NO_STORE)

    @describe(
        operation_id="deletePasskey",
        summary="Delete one of the caller's passkeys (needs a recent sign-in when step-up is on)",
        parameters=[PATH_ID],
        responses={
            204: {"description": "Deleted"},
            401: STEP_UP_RESPONSE,
            **error_responses(404, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def delete(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        passkey_id = _passkey_id(request)
        if fresh_proof is not None:
            fresh_proof(request)
        await service.delete(principal.id, passkey_id)
        return Response(status_code=204)

    @describe(
        operation_id="passkeySigninOptions",
        summary="A challenge and options for navigator.credentials.get(): any passkey of this "
        "site, or with `mfa_token` that user's passkeys as a second factor",
        request_body={
            "required": False,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"mfa_token": {"type": "string"}}}
                }
            },
        },
        responses={
            200: json_response(
                "The challenge's id and PublicKeyCredentialRequestOptions (JSON)",
                CHALLENGE_SCHEMA,
            ),
            **error_responses(400, 401, 413, 429, 503),
        },
        tags=_TAGS,
    )
    async def signin_options(request: Request) -> Response:
        mfa_token = optional_text(await body(request), "mfa_token")
        address = throttle_key(request.scope)
        issued, options = await service.signin_options(mfa_token, address=address)
        return JSON({"challenge_id": issued.id, "options": options}, headers=_NO_STORE)

    @describe(
        operation_id="passkeySignIn",
        summary="Sign in with a passkey: alone, or with `mfa_token` after a password",
        request_body=json_body(
            {
                "type": "object",
                "required": ["challenge_id", "credential"],
                "properties": {
                    "challenge_id": {"type": "string"},
                    "credential": CREDENTIAL,
                    "mfa_token": {"type": "string"},
                },
            }
        ),
        responses={
            201: json_response("Signed in", PAIR_SCHEMA),
            **error_responses(400, 401, 403, 413, 503),
        },
        tags=_TAGS,
    )
    async def sign_in(request: Request) -> Response:
        delivery.refuse_cross_site(request)
        fields = await body(request)
        challenge_id = optional_text(fields, "challenge_id")
        if challenge_id is None:
            raise ValidationFailed(["challenge_id must be a string"])
        credential = credential_field(fields)
        mfa_token = optional_text(fields, "mfa_token")
        user = await service.sign_in(challenge_id, credential, mfa_token)
        pair = await lifecycle.sign_in(
            user.id,
            user.username,
            token_version=user.token_version,
            user_agent=user_agent_of(request),
        )
        response = delivery.response(pair, 201)
        if devices is not None:
            # As after a password sign-in: a stranger's guesses no longer lock this client out.
            devices.remember(request, response, user.id)
        return response

    @describe(
        operation_id="passkeyStepUpOptions",
        summary="A challenge and options for navigator.credentials.get(), to step up with one "
        "of the caller's passkeys",
        responses={
            200: json_response(
                "The challenge's id and PublicKeyCredentialRequestOptions (JSON)",
                CHALLENGE_SCHEMA,
            ),
            **error_responses(401, 404, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def step_up_options(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        issued, options = await service.step_up_options(principal.id)
        return JSON({"challenge_id": issued.id, "options": options}, headers=_NO_STORE)

    @describe(
        operation_id="passkeyStepUp",
        summary="Prove who you are again with a passkey for a fresh access token",
        request_body=json_body(
            {
                "type": "object",
                "required": ["challenge_id", "credential"],
                "properties": {"challenge_id": {"type": "string"}, "credential": CREDENTIAL},
            }
        ),
        responses={
            200: json_response("A fresh access token (auth_time now)", ACCESS_SCHEMA),
            **error_responses(400, 401, 413, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def step_up(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        fields = await body(request)
        challenge_id = optional_text(fields, "challenge_id")
        if challenge_id is None:
            raise ValidationFailed(["challenge_id must be a string"])
        await service.step_up(principal.id, challenge_id, credential_field(fields))
        await refuse_revoked(lifecycle, principal.claims)
        token = lifecycle.reauthenticated(principal.claims)
        return JSON({"accessToken": token}, headers=_NO_STORE)

    return [
        Route("/auth/passkeys", Endpoint(list_passkeys), methods=["GET"]),
        Route("/auth/passkeys/register/options", Endpoint(registration_options), methods=["POST"]),
        Route("/auth/passkeys/register", Endpoint(register), methods=["POST"]),
        Route("/auth/passkeys/signin/options", Endpoint(signin_options), methods=["POST"]),
        Route("/auth/passkeys/signin", Endpoint(sign_in), methods=["POST"]),
        Route("/auth/passkeys/step-up/options", Endpoint(step_up_options), methods=["POST"]),
        Route("/auth/passkeys/step-up", Endpoint(step_up), methods=["POST"]),
        Route("/auth/passkeys/{passkey_id}", Endpoint(rename), methods=["PATCH"]),
        Route("/auth/passkeys/{passkey_id}", Endpoint(delete), methods=["DELETE"]),
    ]
