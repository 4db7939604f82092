"""The token-lifecycle routes: refresh, sign-out, sessions, and the public keys.

    POST   /auth/refresh               refresh token -> new access + refresh token (200)
    POST   /auth/signout               Bearer (+ refresh token) -> session ended (204)
    POST   /auth/signout-all           Bearer -> every session ended, every token outdated (204)
    GET    /auth/sessions              Bearer -> the caller's live sessions (200)
    DELETE /auth/sessions/{session_id} Bearer -> that session ended (204; 404 if not the caller's)
    GET    /.well-known/jwks.json      the public keys tokens are signed with (200)

Where the refresh token travels is `RefreshDelivery`'s business: in the JSON
body beside `accessToken` (AUTHKIT_REFRESH_TOKENS=body), or in an HttpOnly,
Secure, SameSite cookie scoped to /auth (=cookie); a request may always send it
in the body (JSON or form field `refreshToken`) or in that cookie.

Example:

    routes += token_routes(lifecycle, RefreshDelivery("cookie"), max_body_bytes=16384)
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.core.errors import Forbidden, NotFound, ValidationFailed
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, fields_body, json_response
from authkit.http.responses import JSON
from authkit.sessions.lifecycle import TokenLifecycle, TokenPair
from authkit.sessions.store import Session

__all__ = [
    "HOST_PREFIXED_REFRESH_COOKIE",
    "NO_STORE",
    "REFRESH_COOKIE",
    "RefreshDelivery",
    "token_routes",
    "user_agent_of",
]

REFRESH_COOKIE = "authkit_refresh"
# RFC 6265bis 4.1.3.2: a browser keeps a `__Host-` cookie only when it is Secure, has
# Path=/ and no Domain, so no sibling subdomain (or plain-HTTP page) can plant or shadow it.
HOST_PREFIXED_REFRESH_COOKIE = "__Host-" + REFRESH_COOKIE
_COOKIE_PATH = "/auth"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_USER_AGENT = 256
# RFC 6749 5.1: a response carrying tokens must not be stored by any cache.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@attrs.frozen
class RefreshDelivery:
    """How refresh tokens reach the client: `body`, `cookie` or `off`."""

    mode: str = "body"
    max_age_seconds: int = 14 * 86400
    samesite: str = "strict"
    # Other origins whose pages may sign in and refresh (AUTHKIT_CORS_ORIGINS).
    trusted_origins: tuple[str, ...] = ()
    # The `__Host-` prefix (AUTHKIT_REFRESH_COOKIE_HOST_PREFIX): the browser itself then
    # refuses the cookie from a subdomain; the price is Path=/ (sent to every route).
    host_prefix: bool = False

    @property
    def cookie_name(self) -> str:
        return HOST_PREFIXED_REFRESH_COOKIE if self.host_prefix else REFRESH_COOKIE

    @property
    def cookie_path(self) -> str:
        return "/" if self.host_prefix else _COOKIE_PATH

    def refuse_cross_site(self, request: Request) -> None:
        """In cookie mode, refuse to set the refresh cookie for another site's page.

        A cross-site form can post to /auth/signin or /auth/refresh with no preflight;
        SameSite does not stop the answer's Set-Cookie from being stored, so another
        site could sign the browser in as someone else (login CSRF). Browsers say
        where a request comes from in Origin and Sec-Fetch-Site; a client that is
        not a browser sends neither and is not affected.
        """
        if self.mode != "cookie":
            return
        origin = request.headers.get("origin")
        if origin is not None and origin in self.trusted_origins:
            return
        cross_site = request.headers.get("sec-fetch-site") == "cross-site"
        # The host alone: behind a TLS-terminating proxy the scheme seen here is http.
        foreign = origin is not None and _host_of(origin) != request.headers.get("host")
        if cross_site or foreign:
            raise Forbidden(
                "Cross-site request refused: the refresh cookie is only set for this "
                "service's own pages and the origins in AUTHKIT_CORS_ORIGINS"
            )

    def response(self, pair: TokenPair, status_code: int) -> Response:
        body = {"accessToken": pair.access_token}
        if self.mode == "body" and pair.refresh_token is not None:
            body["refreshToken"] = pair.refresh_token
        response = JSON(body, status_code=status_code, headers=NO_STORE)
        if self.mode == "cookie" and pair.refresh_token is not None:
            response.set_cookie(
                self.cookie_name,
                pair.refresh_token,
                max_age=(
                    self.max_age_seconds
                    if pair.refresh_expires_in is None
                    else min(pair.refresh_expires_in, self.max_age_seconds)
                ),
                path=self.cookie_path,
                secure=True,
                httponly=True,
                samesite=self.samesite,  # type: ignore[arg-type]
            )
        return response

    def forget(self, response: Response) -> Response:
        if self.mode == "cookie":
            response.delete_cookie(
                self.cookie_name,
                path=self.cookie_path,
                secure=True,
                httponly=True,
                samesite=self.samesite,  # type: ignore[arg-type]
            )
        return response

    def presented(self, request: Request, fields: dict[str, Any]) -> str | None:
        """The refresh token the request carries: the body's `refreshToken`, else the cookie."""
        if "refreshToken" not in fields:
            return request.cookies.get(self.cookie_name)
        value = fields["refreshToken"]
        if not isinstance(value, str):  # null, a number, a list, {"$ne": ...}
            raise ValidationFailed(["refreshToken must be a string"])
        return value


def user_agent_of(request: Request) -> str | None:
    """The client's User-Agent as a session records it: cut to a bounded length."""
    agent = request.headers.get("user-agent")
    return agent[:_MAX_USER_AGENT] if agent else None


def _iso(moment: datetime) -> str:
    # What JavaScript's Date.toISOString() writes, so a NestJS client parses it unchanged.
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _session_json(session: Session, current: object) -> dict[str, Any]:
    return {
        "id": session.id,
        "createdAt": _iso(session.created_at),
        "lastUsedAt": _iso(session.last_used_at),
        "expiresAt": _iso(session.expires_at),
        "userAgent": session.user_agent,
        "current": session.id == current,
    }


_TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "refreshToken": {
            "type": "string",
            "description": "or the authkit_refresh cookie; a form field works too",
        }
    },
}
_TOKEN_BODY = fields_body(_TOKEN_SCHEMA, required=False)
PAIR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accessToken"],
    "properties": {
        "accessToken": {"type": "string"},
        "refreshToken": {
            "type": "string",
            "description": "absent when refresh tokens are off or travel in a cookie",
        },
    },
}
_SESSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "createdAt", "lastUsedAt", "expiresAt", "userAgent", "current"],
    "properties": {
        "id": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "lastUsedAt": {"type": "string", "format": "date-time"},
        "expiresAt": {"type": "string", "format": "date-time"},
        "userAgent": {"type": "string", "nullable": True},
        "current": {"type": "boolean"},
    },
}
_JWKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
}


def token_routes(
    lifecycle: TokenLifecycle, delivery: RefreshDelivery, max_body_bytes: int
) -> list[Route]:
    @describe(
        operation_id="refresh",
        summary="Trade a refresh token for a new access token and refresh token (once)",
        request_body=_TOKEN_BODY,
        responses={
            200: json_response("A new pair; the refresh token presented is used up", PAIR_SCHEMA),
            **error_responses(400, 401, 403, 413, 503),
        },
        tags=["tokens"],
    )
    async def refresh(request: Request) -> Response:
        delivery.refuse_cross_site(request)
        token = delivery.presented(
            request, await read_fields(request, max_body_bytes, require_object=True)
        )
        if token is None:
            raise ValidationFailed(
                [
                    "refreshToken is missing: send it in the body or the "
                    f"{delivery.cookie_name} cookie"
                ]
            )
        pair = await lifecycle.refresh(token, user_agent=user_agent_of(request))
        return delivery.response(pair, 200)

    @describe(
        operation_id="signOut",
        summary="End this session: its refresh token, and this access token when checks are on",
        request_body=_TOKEN_BODY,
        responses={204: {"description": "Signed out"}, **error_responses(400, 401, 413, 503)},
        tags=["tokens"],
    )
    @guard("jwt")
    async def sign_out(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        token = delivery.presented(
            request, await read_fields(request, max_body_bytes, require_object=True)
        )
        await lifecycle.sign_out(principal.claims, token)
        return delivery.forget(Response(status_code=204))

    @describe(
        operation_id="signOutAll",
        summary="End every session of the caller and outdate every access token issued so far",
        responses={204: {"description": "Signed out everywhere"}, **error_responses(401, 503)},
        tags=["tokens"],
    )
    @guard("jwt")
    async def sign_out_all(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        await lifecycle.sign_out_all(principal.claims)
        return delivery.forget(Response(status_code=204))

    @describe(
        operation_id="listSessions",
        summary="The caller's live sessions (sign-ins), newest first",
        responses={
            200: json_response(
                "Sessions",
                {
                    "type": "object",
                    "required": ["sessions"],
                    "properties": {"sessions": {"type": "array", "items": _SESSION_SCHEMA}},
                },
            ),
            **error_responses(401, 503),
        },
        tags=["tokens"],
    )
    @guard("jwt")
    async def list_sessions(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        current = principal.claims.get("sid")
        sessions = await lifecycle.list_sessions(principal.id)
        body = {"sessions": [_session_json(s, current) for s in sessions]}
        return JSON(body, headers={"Cache-Control": "no-store"})

    @describe(
        operation_id="revokeSession",
        summary="End one of the caller's sessions",
        parameters=[
            {
                "name": "session_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 64},
            }
        ],
        responses={204: {"description": "Revoked"}, **error_responses(401, 404, 503)},
        tags=["tokens"],
    )
    @guard("jwt")
    async def revoke_session(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        session_id = request.path_params["session_id"]
        if not _SESSION_ID.match(session_id):
            raise NotFound("Session not found")
        await lifecycle.revoke_session(principal.id, session_id)
        return Response(status_code=204)

    @describe(
        operation_id="getJwks",
        summary="The public keys access tokens are signed with (empty with HS256)",
        responses={200: json_response("A JWK Set (RFC 7517)", _JWKS_SCHEMA)},
        tags=["tokens"],
    )
    async def jwks(request: Request) -> Response:
        # Cached briefly: a verifier that meets an unknown kid fetches again (docs/tokens.md).
        headers = {"Cache-Control": "public, max-age=300"}
        return JSON(lifecycle.tokens.public_jwks(), headers=headers)

    routes: list[Route] = [
        Route("/auth/signout", Endpoint(sign_out), methods=["POST"]),
        Route("/auth/signout-all", Endpoint(sign_out_all), methods=["POST"]),
        Route("/auth/sessions", Endpoint(list_sessions), methods=["GET"]),
        Route("/auth/sessions/{session_id}", Endpoint(revoke_session), methods=["DELETE"]),
        Route("/.well-known/jwks.json", Endpoint(jwks), methods=["GET"]),
    ]
    if delivery.mode != "off":
        routes.insert(0, Route("/auth/refresh", Endpoint(refresh), methods=["POST"]))
    return routes


def _host_of(origin: str) -> str | None:
    """The host (and port) an Origin header names; None when it does not parse as a URL,
    which is no origin of this service's."""
    try:
        return urlsplit(origin).netloc
    except ValueError:
        return None
