"""The accounts routes, email side.

    GET    /auth/email                  Bearer -> the caller's address and its state (200)
    POST   /auth/email                  Bearer {email} -> set or change it; a link is mailed (202)
    POST   /auth/email/verification     Bearer -> mail the link again (202)
    GET    /auth/email/verify?token=    the page the mailed link opens (HTML)
    POST   /auth/email/verify           {token} -> the address is verified (200)
    POST   /auth/password/forgot        {email} -> the same 202 whoever has the address
    GET    /auth/password/reset?token=  the page the mailed link opens (HTML)
    POST   /auth/password/reset         {token, password} -> new password, every session ends (200)
    POST   /auth/password/change        Bearer {currentPassword, newPassword} -> new access token
    DELETE /auth/account                Bearer {password} -> the account is gone (204)

Bodies are JSON or HTML forms (authkit.http.body). Example:

    routes = account_routes(emails, passwords, delivery, max_body_bytes=16384)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.accounts.pages import reset_page, verify_page
from authkit.accounts.recovery import PasswordService
from authkit.accounts.service import EmailService
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.client_address import throttle_key
from authkit.http.disconnect import ClientConnection
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, fields_body, json_response
from authkit.http.responses import JSON
from authkit.mfa.step_up import STEP_UP_RESPONSE, StepUpRequired, require_fresh
from authkit.sessions.routes import RefreshDelivery

__all__ = ["FORGOT_ANSWER", "account_routes"]

FORGOT_ANSWER = {
    "message": "If an account has this verified address, a link to reset its password is on its way"
}
_NO_STORE = {"Cache-Control": "no-store"}
_STATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["email", "emailVerified", "pendingEmail"],
    "properties": {
        "email": {"type": "string", "nullable": True},
        "emailVerified": {"type": "boolean"},
        "pendingEmail": {"type": "string", "nullable": True},
    },
}
_MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}
_TOKEN_PARAMETER = {
    "name": "token",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
}
_HTML_PAGE = {"description": "An HTML page with a form", "content": {"text/html": {}}}
_PROOF = (
    "The caller's password: required, unless the user has none (made by social sign-in), "
    "who proves it is them by a recent sign-in instead (401 step_up_required otherwise)"
)


def _body(required: list[str], **properties: Any) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": properties}
    return fields_body(schema, required=bool(required))


def _string(max_length: int = 256) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length}


def account_routes(
    emails: EmailService,
    passwords: PasswordService,
    delivery: RefreshDelivery,
    *,
    max_body_bytes: int,
    second_factors: Callable[[str], Awaitable[list[str]]] | None = None,
) -> list[Route]:
    """`second_factors(user_id)`: the user's second factors (authkit.mfa); a user who has
    one changes the password or deletes the account only with a recent sign-in (step-up),
    since the password alone is what a second factor is there to be more than."""
    policy = passwords.auth.policy

    async def fresh_if_second_factor(request: Request, user_id: str) -> None:
        if second_factors is not None and await second_factors(user_id):
            require_fresh(request)

    async def fields(request: Request) -> dict[str, Any]:
        return await read_fields(request, max_body_bytes, require_object=True)

    @describe(
        operation_id="getEmail",
        summary="The caller's email address, whether it is verified, and one waiting to be",
        responses={
            200: json_response("The address", _STATE_SCHEMA),
            **error_responses(401, 404, 503),
        },
        tags=["accounts"],
    )
    @guard("jwt")
    async def get_email(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        return JSON(await emails.state(principal.id), headers=_NO_STORE)

    @describe(
        operation_id="setEmail",
        summary="Set or change the caller's address; a verification link is mailed to it",
        request_body=_body(["email"], email=_string(254)),
        responses={
            202: json_response(
                "Link mailed; a verified address stays until the new one is", _STATE_SCHEMA
            ),
            **error_responses(400, 404, 409, 413, 429, 503),
            401: STEP_UP_RESPONSE,
        },
        tags=["accounts"],
    )
    @guard("jwt")
    async def set_email(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        # An address is where a password reset goes: a stolen access token that could set
        # one would take the account. Everyone proves a recent sign-in for it.
        require_fresh(request)
        body = await fields(request)
        state = await emails.change_email(
            principal.id, body.get("email"), client=throttle_key(request.scope)
        )
        return JSON(state, status_code=202, headers=_NO_STORE)

    @describe(
        operation_id="resendVerification",
        summary="Mail the verification link again (to the address waiting to be verified)",
        responses={
            202: json_response("Link mailed", _STATE_SCHEMA),
            **error_responses(400, 401, 404, 429, 503),
        },
        tags=["accounts"],
    )
    @guard("jwt")
    async def resend(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        state = await emails.resend(principal.id, client=throttle_key(request.scope))
        return JSON(state, status_code=202, headers=_NO_STORE)

    @describe(
        operation_id="verifyEmailPage",
        summary="The page a verification link opens: whose account the address joins, and "
        "one button that confirms",
        parameters=[_TOKEN_PARAMETER],
        responses={200: _HTML_PAGE, 400: _HTML_PAGE, **error_responses(503)},
        tags=["accounts"],
    )
    async def verify_form(request: Request) -> Response:
        token = request.query_params.get("token")
        return verify_page(token, await emails.link_for(token))

    @describe(
        operation_id="verifyEmail",
        summary="Confirm an address with the token its link carried (twice is harmless)",
        request_body=_body(["token"], token=_string()),
        responses={
            200: json_response("Verified", _STATE_SCHEMA),
            **error_responses(400, 409, 413, 503),
        },
        tags=["accounts"],
    )
    async def verify(request: Request) -> Response:
        state = await emails.confirm((await fields(request)).get("token"))
        return JSON(state, headers=_NO_STORE)

    @describe(
        operation_id="forgotPassword",
        summary="Mail a password-reset link; the same answer whether or not anyone has the address",
        request_body=_body(["email"], email=_string(254)),
        responses={
            202: json_response("Accepted", _MESSAGE_SCHEMA),
            **error_responses(400, 413, 429, 503),
        },
        tags=["accounts"],
    )
    async def forgot(request: Request) -> Response:
        body = await fields(request)
        await passwords.forgot(body.get("email"), client=throttle_key(request.scope))
        return JSON(FORGOT_ANSWER, status_code=202, headers=_NO_STORE)

    @describe(
        operation_id="resetPasswordPage",
        summary="The page a reset link opens: a form for the new password",
        parameters=[_TOKEN_PARAMETER],
        responses={200: _HTML_PAGE, 400: _HTML_PAGE},
        tags=["accounts"],
    )
    async def reset_form(request: Request) -> Response:
        return reset_page(request.query_params.get("token"), policy.min_length, policy.max_length)

    @describe(
        operation_id="resetPassword",
        summary="Set a new password with a reset token; every session of the user ends",
        request_body=_body(
            ["token", "password"],
            token=_string(),
            password={
                "type": "string",
                "minLength": policy.min_length,
                "maxLength": policy.max_length,
            },
        ),
        responses={
            200: json_response("Password changed; sign in with it", _MESSAGE_SCHEMA),
            **error_responses(400, 413, 503),
        },
        tags=["accounts"],
    )
    async def reset(request: Request) -> Response:
        body = await fields(request)
        await passwords.reset(body.get("token"), body.get("password"), ClientConnection(request))
        message = {"message": "Password changed; sign in with the new one"}
        return JSON(message, headers=_NO_STORE)

    @describe(
        operation_id="changePassword",
        summary="Change the password with the current one (a user without one, made by social "
        "sign-in, sets a first one after a recent sign-in); the caller's other sessions end",
        request_body=_body(
            ["newPassword"],
            currentPassword={**_string(), "description": _PROOF},
            newPassword={
                "type": "string",
                "minLength": policy.min_length,
                "maxLength": policy.max_length,
            },
        ),
        responses={
            200: json_response(
                "Changed: this access token replaces the caller's",
                {
                    "type": "object",
                    "required": ["accessToken"],
                    "properties": {"accessToken": {"type": "string"}},
                },
            ),
            **error_responses(400, 409, 413, 429, 503),
            401: STEP_UP_RESPONSE,
        },
        tags=["accounts"],
    )
    @guard("jwt")
    async def change(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        await fresh_if_second_factor(request, principal.id)
        body = await fields(request)
        access = await passwords.change(
            dict(principal.claims),
            body.get("currentPassword"),
            body.get("newPassword"),
            address=throttle_key(request.scope),
            client=ClientConnection(request),
            fresh=_is_fresh(request),
        )
        return JSON({"accessToken": access}, headers={**_NO_STORE, "Pragma": "no-cache"})

    @describe(
        operation_id="deleteAccount",
        summary="Delete the caller's account (password, or a recent sign-in for a user without "
        "one): user, sessions, identities",
        request_body=_body([], password={**_string(), "description": _PROOF}),
        responses={
            204: {"description": "Deleted"},
            **error_responses(400, 413, 429, 503),
            401: STEP_UP_RESPONSE,
        },
        tags=["accounts"],
    )
    @guard("jwt")
    async def delete_account(request: Request) -> Response:
        principal: AuthenticatedUser = request.user
        await fresh_if_second_factor(request, principal.id)
        body = await fields(request)
        await passwords.delete(
            dict(principal.claims),
            body.get("password"),
            address=throttle_key(request.scope),
            client=ClientConnection(request),
            fresh=_is_fresh(request),
        )
        return delivery.forget(Response(status_code=204))

    return [
        Route("/auth/email", Endpoint(get_email), methods=["GET"]),
        Route("/auth/email", Endpoint(set_email), methods=["POST"]),
        Route("/auth/email/verification", Endpoint(resend), methods=["POST"]),
        Route("/auth/email/verify", Endpoint(verify_form), methods=["GET"]),
        Route("/auth/email/verify", Endpoint(verify), methods=["POST"]),
        Route("/auth/password/forgot", Endpoint(forgot), methods=["POST"]),
        Route("/auth/password/reset", Endpoint(reset_form), methods=["GET"]),
        Route("/auth/password/reset", Endpoint(reset), methods=["POST"]),
        Route("/auth/password/change", Endpoint(change), methods=["POST"]),
        Route("/auth/account", Endpoint(delete_account), methods=["DELETE"]),
    ]


def _is_fresh(request: Request) -> bool:
    """Whether the caller's sign-in is recent enough for a change that asks for one."""
    try:
        require_fresh(request)
    except StepUpRequired:
        return False
    return True
