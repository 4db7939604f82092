"""Managing your own keys, with a JWT (an API key cannot make, list or revoke keys).

    POST   /auth/api-keys       {"label": "ci", "scopes": ["reports:read"]}
                                -> 201 {"id", "key", "prefix", "label", "scopes", "createdAt", ...}
                                   the key appears in this answer and nowhere else, ever
    GET    /auth/api-keys       -> 200 [{"id", "prefix", "label", "scopes", "createdAt",
                                         "lastUsedAt", "revokedAt"}, ...], oldest first
    DELETE /auth/api-keys/{id}  -> 204; 404 unless it is one of the caller's keys

A key can carry only scopes the caller's token carries (403 otherwise): a key never
grants more than its maker holds. Operators grant any scopes with `authkit apikey
create`. A user may hold at most 100 unrevoked keys (409 beyond that).
Errors have authkit's NestJS shape.

Example:

    Starlette(routes=api_key_routes(APIKeyStore(db["api_keys"]), max_body_bytes=16384))
"""

from __future__ import annotations

from typing import Any

from authkit.plugin import (
    JSON,
    AuthenticatedUser,
    Conflict,
    Forbidden,
    NotFound,
    describe,
    error_responses,
    guard,
    json_response,
    read_fields,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit_apikey.store import APIKeyStore, Revocation, parse_key_id
from authkit_apikey.validation import LABEL_MAX, SCOPE_MAX, SCOPES_MAX, KeyRequest

__all__ = ["MAX_ACTIVE_KEYS", "api_key_routes"]

MAX_ACTIVE_KEYS = 100
_TAGS = ["api-keys"]

_KEY_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "prefix": {"type": "string", "description": "the key's first characters, for display"},
    "label": {"type": "string"},
    "scopes": {"type": "array", "items": {"type": "string"}},
    "createdAt": {"type": "string", "format": "date-time"},
    "lastUsedAt": {"type": "string", "format": "date-time", "nullable": True},
    "revokedAt": {"type": "string", "format": "date-time", "nullable": True},
}
_KEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": list(_KEY_FIELDS),
    "properties": _KEY_FIELDS,
}
_NEW_KEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [*_KEY_FIELDS, "key"],
    "properties": {
        **_KEY_FIELDS,
        "key": {"type": "string", "description": "send as X-API-Key; shown only this once"},
    },
}
_CREATE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["label"],
                "properties": {
                    "label": {"type": "string", "minLength": 1, "maxLength": LABEL_MAX},
                    "scopes": {
                        "type": "array",
                        "maxItems": SCOPES_MAX,
                        "items": {"type": "string", "minLength": 1, "maxLength": SCOPE_MAX},
                    },
                },
            }
        }
    },
}
_KEY_ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"},
}


def api_key_routes(keys: APIKeyStore, max_body_bytes: int) -> list[Route]:
    @describe(
        operation_id="createApiKey",
        summary="Create an API key; the key is in this answer only",
        request_body=_CREATE_BODY,
        responses={
            201: json_response("Created; store the key now", _NEW_KEY_SCHEMA),
            **error_responses(400, 401, 403, 409, 413, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def create_key(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        wanted = KeyRequest.from_body(await read_fields(request, max_body_bytes))
        beyond = [s for s in wanted.scopes if s not in request.auth.scopes]
        if beyond:
            raise Forbidden(f"Cannot grant scopes your token does not carry: {', '.join(beyond)}")
        if await keys.count_active(principal.id) >= MAX_ACTIVE_KEYS:
            raise Conflict(f"Too many active API keys ({MAX_ACTIVE_KEYS}); revoke one first")
        record, key = await keys.create(
            user_id=principal.id,
            username=principal.username,
            label=wanted.label,
            scopes=wanted.scopes,
        )
        # no-store: a secret in a response must not be kept by caches (RFC 6749 5.1 does so).
        return JSON(
            {**record.public(), "key": key},
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @describe(
        operation_id="listApiKeys",
        summary="Your API keys, revoked ones included; never the keys themselves",
        responses={
            200: json_response("Your keys, oldest first", {"type": "array", "items": _KEY_SCHEMA}),
            **error_responses(401, 503),
        },
        tags=_TAGS,
    )
    @guard("jwt")
    async def list_keys(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        return JSON([record.public() for record in await keys.list_for_user(principal.id)])

    @describe(
        operation_id="revokeApiKey",
        summary="Revoke one of your API keys",
        responses={
            204: {"description": "Revoked (or it already was)"},
            **error_responses(401, 404, 503),
        },
        parameters=[_KEY_ID_PARAMETER],
        tags=_TAGS,
    )
    @guard("jwt")
    async def revoke_key(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        key_id = parse_key_id(request.path_params["id"])
        found = Revocation.NOT_FOUND
        if key_id is not None:
            found = await keys.revoke(key_id, user_id=principal.id)
        if found is Revocation.NOT_FOUND:
            raise NotFound("API key not found")
        return Response(status_code=204)

    return [
        Route("/auth/api-keys", create_key, methods=["POST"]),
        Route("/auth/api-keys", list_keys, methods=["GET"]),
        Route("/auth/api-keys/{id}", revoke_key, methods=["DELETE"]),
    ]
