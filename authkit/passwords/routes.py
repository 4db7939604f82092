"""The seed's three routes (POST /auth/signup, POST /auth/signin, GET /auth/me) and the
OpenAPI document that describes them.

Example:

    from authkit.sessions.routes import RefreshDelivery

    delivery = RefreshDelivery("body")
    routes = auth_routes(service, 16384, lifecycle, delivery)  # as passwords_feature() does
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from authkit.core.errors import Forbidden
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.client_address import throttle_key
from authkit.http.disconnect import ClientConnection
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import (
    describe,
    error_responses,
    fields_body,
    json_response,
    openapi_document,
)
from authkit.http.responses import JSON
from authkit.passwords.devices import DEVICE_PARAMETER, DEVICE_RESPONSE_HEADERS
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.policy import PasswordPolicy
from authkit.passwords.service import AuthService
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import NO_STORE, PAIR_SCHEMA, RefreshDelivery, user_agent_of
from authkit.users.store import User

__all__ = ["SIGNUP_CLOSED", "SignInGate", "SignupMail", "auth_routes"]

SIGNUP_CLOSED = "Sign-up is closed: an administrator creates accounts"


class SignupMail(Protocol):
    """What a sign-up with an `email` asks of the accounts capability (authkit.accounts)."""

    def ready(self) -> None:
        """Raise an HTTPError when no verification mail could be sent."""

    async def after_signup(self, user: User, client: str) -> None:
        """Mail the new user's address its verification link."""


class SignInGate(Protocol):
    """Asked after the password was right and before any token is issued: a body to answer
    instead (a second factor's challenge, authkit.mfa), or None to sign the user in."""

    @property
    def openapi_response(self) -> Mapping[str, Any]:
        """The sign-in's other answer (200), for /openapi.json."""

    async def challenge(self, user_id: str) -> Mapping[str, Any] | None: ...


def _credentials_body(policy: PasswordPolicy) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 4, "maxLength": 20},
            "password": {
                "type": "string",
                "minLength": policy.min_length,
                "maxLength": policy.max_length,
                "description": "at most 72 bytes in UTF-8 (bcrypt's limit); at signup not "
                "whitespace only, not the username, not a common password",
            },
            "email": {
                "type": "string",
                "maxLength": 254,
                "description": "optional, at signup only: a verification link is mailed to it",
            },
        },
    }
    return fields_body(schema, required=True)


def _json_object(description: str, **properties: Any) -> dict[str, Any]:
    schema = {"type": "object", "required": list(properties), "properties": properties}
    return json_response(description, schema)


def _refusing_cross_site(
    delivery: RefreshDelivery,
) -> Callable[[Callable[[Request], Awaitable[Response]]], Callable[[Request], Awaitable[Response]]]:
    """Refuse another site's sign-in (cookie mode) before the guard runs: a refused request
    costs no bcrypt work and records no failure against the account it names."""

    def decorate(
        endpoint: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        # functools.wraps copies the guard's marker too: start-up checks and /openapi.json
        # still see the route as guarded.
        @functools.wraps(endpoint)
        async def refusing(request: Request) -> Response:
            delivery.refuse_cross_site(request)
            return await endpoint(request)

        return refusing

    return decorate


def auth_routes(
    service: AuthService,
    max_body_bytes: int,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    gate: SignInGate | None = None,
    *,
    signup_mail: SignupMail | None = None,
    signup_open: bool = True,
) -> list[Route]:
    """The seed's routes. With a `lifecycle`, sign-in also starts a session and hands out a
    refresh token the way `delivery` says (authkit.token_routes). A `gate` may answer a
    right password with a challenge instead (a second factor). With `signup_mail`, a
    sign-up that gives an `email` has a verification link mailed to it. With `signup_open`
    False (AUTHKIT_SIGNUP=closed) sign-up answers 403 before reading the body: only an
    administrator creates users then (authkit.admin)."""
    delivery = delivery or RefreshDelivery()
    credentials_body = _credentials_body(service.policy)
    signup_refusals = (400, 409, 413, 429, 503) if signup_open else (400, 403, 409, 413, 429, 503)

    @describe(
        operation_id="signUp",
        summary="Create a user",
        request_body=credentials_body,
        responses={
            201: {"description": "Created; the body is empty"},
            **error_responses(*signup_refusals),
        },
        tags=["auth"],
    )
    async def sign_up(request: Request) -> Response:
        if not signup_open:
            raise Forbidden(SIGNUP_CLOSED)
        credentials = SignupCredentials.from_body(
            await read_fields(request, max_body_bytes), service.policy
        )
        mail = signup_mail if credentials.email is not None else None
        if mail is not None:
            mail.ready()
        address = throttle_key(request.scope)
        user = await service.sign_up(credentials, address=address, client=ClientConnection(request))
        if mail is not None:
            await mail.after_signup(user, address)
        # The seed's answer, with or without an email: nothing in it says who has an address.
        return Response(status_code=201)

    @describe(
        operation_id="signIn",
        summary="Exchange a username and password for an access token",
        request_body=credentials_body,
        parameters=[DEVICE_PARAMETER],
        responses={
            **({} if gate is None else {200: gate.openapi_response}),
            201: {**json_response("Signed in", PAIR_SCHEMA), "headers": DEVICE_RESPONSE_HEADERS},
            **error_responses(400, 401, 403, 413, 429, 503),
        },
        tags=["auth"],
    )
    @_refusing_cross_site(delivery)
    @guard("local")
    async def sign_in(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        if gate is not None and (challenge := await gate.challenge(principal.id)) is not None:
            # No token and no device token yet: the second factor completes the sign-in.
            return JSON(dict(challenge), status_code=200, headers=NO_STORE)
        version = principal.claims.get("token_version")
        roles = principal.claims.get("roles")
        pair = await lifecycle.sign_in(
            principal.id,
            principal.username,
            token_version=version if isinstance(version, int) else None,
            roles=tuple(roles) if isinstance(roles, list) else None,
            user_agent=user_agent_of(request),
        )
        response = delivery.response(pair, 201)
        if service.devices is not None:
            # This client has now signed in: from here on a stranger's guesses leave it be.
            service.devices.remember(request, response, principal.id)
        return response

    @describe(
        operation_id="getMe",
        summary="The user the bearer token belongs to",
        responses={
            200: _json_object(
                "The token's user", _id={"type": "string"}, username={"type": "string"}
            ),
            **error_responses(401),
        },
        tags=["auth"],
    )
    @guard("jwt")
    async def me(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        return JSON({"_id": principal.id, "username": principal.username})

    async def root(request: Request) -> Response:
        # The NestJS starter's greeting, kept so a client probing `/` sees what it saw before.
        return HTMLResponse("Hello World!")

    async def openapi(request: Request) -> Response:
        return JSON(openapi_document(request.app.routes, request.app.state.strategies))

    # Starlette's router tries routes in order, each miss a regular expression matched:
    # /auth/me, which a client may call before every request of its own, comes first, the
    # two undocumented routes, rarely asked for, last. The document lists the operations in
    # the order their endpoints are defined above, not this one (openapi_document).
    return [
        Route("/auth/me", Endpoint(me), methods=["GET"]),
        Route("/auth/signup", Endpoint(sign_up), methods=["POST"]),
        Route("/auth/signin", Endpoint(sign_in), methods=["POST"]),
        Route("/", Endpoint(root), methods=["GET"]),
        Route("/openapi.json", Endpoint(openapi), methods=["GET"], include_in_schema=False),
    ]
