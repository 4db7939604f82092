"""The social sign-in routes.

    POST   /auth/oauth/exchange              one-time code + code_verifier -> what /auth/signin
                                             answers (201)
    GET    /auth/oauth/{provider}            -> 302 to the provider (state bound to this browser,
                                             the code to come bound to ?code_challenge=)
    GET    /auth/oauth/{provider}/callback   -> 302 to the flow's target: ?code=, ?linked=, ?error=
    POST   /auth/oauth/{provider}/link       Bearer -> {"authorization_url": ...} (200)
    GET    /auth/identities                  Bearer -> the caller's linked identities (200)
    DELETE /auth/identities/{provider}       Bearer -> unlinked (204; 409 if the last way in)

The browser-binding cookie (`authkit_oauth_browser`: HttpOnly, SameSite=Lax so that the
provider's redirect back carries it, path /auth/oauth) holds a random value whose hash each
flow it starts stores; one cookie serves any number of flows at once. The code the callback
hands out is bound to the front end's RFC 7636 challenge instead (authkit.social.pkce): a
cross-origin front end exchanges it without cookies.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from authkit.core.errors import BackendUnavailable, HTTPError, TooManyRequests
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.client_address import throttle_key
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, fields_body, json_response
from authkit.http.responses import JSON
from authkit.mfa.step_up import STEP_UP_RESPONSE, require_fresh
from authkit.passwords.routes import SignInGate
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import PAIR_SCHEMA, RefreshDelivery, user_agent_of
from authkit.social.flows import new_secret
from authkit.social.pkce import challenge_parameters, verifier_schema
from authkit.social.providers import ProviderFailure
from authkit.social.service import CallbackError, SocialService, error_redirect

__all__ = ["BROWSER_COOKIE", "social_routes"]

BROWSER_COOKIE = "authkit_oauth_browser"
_COOKIE_PATH = "/auth/oauth"
_COOKIE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_NO_STORE = {"Cache-Control": "no-store"}
_PROVIDER_PARAMETER = {
    "name": "provider",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z][a-z0-9]{0,31}$"},
}
_REDIRECT = {
    302: {
        "description": "To the provider, or back to the flow's target",
        "headers": {"Location": {"schema": {"type": "string"}}},
    }
}
_IDENTITY_SCHEMA = {
    "type": "object",
    "required": ["provider", "issuer", "subject", "email", "linked_at"],
    "properties": {
        "provider": {"type": "string"},
        "issuer": {"type": "string"},
        "subject": {"type": "string"},
        "email": {"type": "string", "nullable": True},
        "linked_at": {"type": "string", "format": "date-time"},
    },
}


def _browser(request: Request) -> str | None:
    value = request.cookies.get(BROWSER_COOKIE)
    return value if value is not None and _COOKIE_SHAPE.match(value) else None


def _bind(response: Response, value: str, *, secure: bool, max_age: int) -> Response:
    response.set_cookie(
        BROWSER_COOKIE,
        value,
        max_age=max_age,
        path=_COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    return response


def social_routes(
    service: SocialService,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    max_body_bytes: int,
    gate: SignInGate | None = None,
) -> list[Route]:
    """The routes; a `gate` (a second factor, authkit.mfa) is asked before the exchange
    issues tokens, as /auth/signin asks it: social sign-in does not skip a second factor."""
    secure = service.public_url.startswith("https://")
    cookie_age = int(service.flow_ttl.total_seconds())
    pkce_required = service.exchange_pkce_required

    def provider_name(request: Request) -> str:
        name: str = request.path_params["provider"]
        service.provider(name)  # 404 first
        return name

    @describe(
        operation_id="startSocialSignIn",
        summary="Start signing in with a provider: 302 to its authorization page",
        parameters=[
            _PROVIDER_PARAMETER,
            {
                "name": "redirect_to",
                "in": "query",
                "required": True,
                "schema": {"type": "string"},
                "description": "one of AUTHKIT_OAUTH_REDIRECT_TARGETS",
            },
            *challenge_parameters(required=pkce_required),
        ],
        responses={**_REDIRECT, **error_responses(400, 404, 503)},
        tags=["social"],
    )
    async def start(request: Request) -> Response:
        name = provider_name(request)
        query = request.query_params
        target = service.allowed_target(query.get("redirect_to"))
        challenge = service.exchange_challenge(
            query.get("code_challenge"), query.get("code_challenge_method")
        )
        browser = _browser(request) or new_secret()
        try:
            url = await service.start(
                name,
                target,
                browser,
                address=throttle_key(request.scope),
                exchange_challenge=challenge,
            )
        except (ProviderFailure, CallbackError) as exc:
            url = error_redirect(target, exc.code)
        return _bind(
            RedirectResponse(url, status_code=302, headers=_NO_STORE),
            browser,
            secure=secure,
            max_age=cookie_age,
        )

    @describe(
        operation_id="socialCallback",
        summary="Where the provider sends the browser back: 302 to the flow's target with "
        "?code= (exchange it), ?linked=<provider>, or ?error=<code>&error_description=",
        parameters=[
            _PROVIDER_PARAMETER,
            *(
                {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                for n in ("code", "state", "iss", "error", "error_description")
            ),
        ],
        responses={**_REDIRECT, **error_responses(400, 404, 429, 503)},
        tags=["social"],
    )
    async def callback(request: Request) -> Response:
        name = provider_name(request)
        params = {k: v for k, v in request.query_params.items() if k in _CALLBACK_PARAMS}
        url = await service.callback(name, params, _browser(request), throttle_key(request.scope))
        return RedirectResponse(url, status_code=302, headers=_NO_STORE)

    @describe(
        operation_id="exchangeSocialCode",
        summary="Trade the callback's one-time code and the verifier of the flow's "
        "code_challenge for tokens, as /auth/signin answers; any attempt uses the code up",
        request_body=fields_body(
            {
                "type": "object",
                "required": ["code", "code_verifier"] if pkce_required else ["code"],
                "properties": {
                    "code": {"type": "string", "minLength": 1, "maxLength": 256},
                    "code_verifier": verifier_schema(required=pkce_required),
                },
            },
            required=True,
        ),
        responses={
            201: json_response("Signed in", PAIR_SCHEMA),
            **({} if gate is None else {200: gate.openapi_response}),
            # 401: the user was deleted between the callback and the exchange.
            **error_responses(400, 401, 403, 413, 503),
        },
        tags=["social"],
    )
    async def exchange(request: Request) -> Response:
        delivery.refuse_cross_site(request)
        fields = await read_fields(request, max_body_bytes)
        grant = await service.exchange(fields.get("code"), fields.get("code_verifier"))
        if gate is not None and (challenge := await gate.challenge(grant.user_id)) is not None:
            return JSON(dict(challenge), status_code=200, headers=_NO_STORE)
        pair = await lifecycle.sign_in(
            grant.user_id, grant.username, user_agent=user_agent_of(request)
        )
        return delivery.response(pair, 201)

    @describe(
        operation_id="linkSocialIdentity",
        summary="Start linking a provider's identity to the signed-in user "
        "(needs a recent sign-in)",
        parameters=[_PROVIDER_PARAMETER],
        request_body=fields_body(
            {
                "type": "object",
                "required": ["redirect_to"],
                "properties": {"redirect_to": {"type": "string"}},
            },
            required=True,
        ),
        responses={
            200: json_response(
                "Send the browser to authorization_url",
                {
                    "type": "object",
                    "required": ["authorization_url"],
                    "properties": {"authorization_url": {"type": "string"}},
                },
            ),
            **error_responses(400, 404, 413, 429, 503),
            401: STEP_UP_RESPONSE,
            502: {
                "description": "The provider's answer could not be used",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
        tags=["social"],
    )
    @guard("jwt")
    async def link(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        # A linked identity signs in: a stolen access token must not add the thief's.
        require_fresh(request)
        name = provider_name(request)
        fields = await read_fields(request, max_body_bytes)
        target = service.allowed_target(fields.get("redirect_to"))
        browser = _browser(request) or new_secret()
        address = throttle_key(request.scope)
        try:
            url = await service.start(
                name, target, browser, link_user_id=principal.id, address=address
            )
        except ProviderFailure as exc:
            raise _provider_down(exc.code) from None
        except CallbackError:
            raise TooManyRequests(int(service.flow_ttl.total_seconds())) from None
        response = JSON({"authorization_url": url}, headers=_NO_STORE)
        return _bind(response, browser, secure=secure, max_age=cookie_age)

    @describe(
        operation_id="listIdentities",
        summary="The caller's linked provider identities",
        responses={
            200: json_response("Linked identities", {"type": "array", "items": _IDENTITY_SCHEMA}),
            **error_responses(401, 503),
        },
        tags=["social"],
    )
    @guard("jwt")
    async def list_identities(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        found = await service.identities_of(principal.id)
        body: list[dict[str, Any]] = [
            {
                "provider": i.provider,
                "issuer": i.issuer,
                "subject": i.subject,
                "email": i.email,
                "linked_at": i.linked_at.isoformat().replace("+00:00", "Z"),
            }
            for i in found
        ]
        return JSON(body, headers=_NO_STORE)

    @describe(
        operation_id="unlinkIdentity",
        summary="Unlink the caller's identity at a provider (never the last way to sign in)",
        parameters=[
            {**_PROVIDER_PARAMETER, "schema": {"type": "string", "maxLength": 64}},
        ],
        responses={204: {"description": "Unlinked"}, **error_responses(401, 404, 409, 503)},
        tags=["social"],
    )
    @guard("jwt")
    async def unlink(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        await service.unlink(principal.id, str(request.path_params["provider"])[:64])
        return Response(status_code=204)

    return [
        Route("/auth/oauth/exchange", Endpoint(exchange), methods=["POST"]),
        Route("/auth/oauth/{provider}", Endpoint(start), methods=["GET"]),
        Route("/auth/oauth/{provider}/callback", Endpoint(callback), methods=["GET"]),
        Route("/auth/oauth/{provider}/link", Endpoint(link), methods=["POST"]),
        Route("/auth/identities", Endpoint(list_identities), methods=["GET"]),
        Route("/auth/identities/{provider}", Endpoint(unlink), methods=["DELETE"]),
    ]


_CALLBACK_PARAMS = frozenset({"code", "state", "iss", "error"})


class _ProviderUnavailable(BackendUnavailable):
    default_message = "provider_unavailable: the sign-in provider cannot be reached; try again"


class _ProviderBadGateway(HTTPError):
    status_code = 502
    error = "Bad Gateway"
    default_message = "provider_error: the sign-in provider's answer could not be used"


def _provider_down(code: str) -> HTTPError:
    return _ProviderUnavailable() if code == "provider_unavailable" else _ProviderBadGateway()
