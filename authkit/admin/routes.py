"""The administration routes, for holders of the admin role (AUTHKIT_ADMIN_ROLE):

    GET    /auth/admin/users                   ?q=&after=&limit= -> a page of users (200)
    POST   /auth/admin/users                   username, password, roles -> a new user (201)
    GET    /auth/admin/users/{id}              one user (200)
    POST   /auth/admin/users/{id}/disable      no sign-in, no refresh, sessions ended (200)
    POST   /auth/admin/users/{id}/enable       (200)
    PUT    /auth/admin/users/{id}/roles        roles -> replaced (200)
    POST   /auth/admin/users/{id}/unlock       its failed sign-ins forgotten (200)
    POST   /auth/admin/users/{id}/signout-all  every session ended (200)
    PUT    /auth/admin/users/{id}/password     password -> set, every session ended (204)

Under /auth, beside authkit's other routes: an application's own /admin stays its own.

Each is guarded by `jwt` with the admin role as a scope (no token: 401; a token without
the role: 403), and then the caller is read from the database: an administrator who was
disabled or lost the role is refused at once, revocation checks or not.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.admin.openapi import (
    DEFAULT_PAGE,
    LIST_PARAMETERS,
    MAX_SEARCH,
    PAGE_SCHEMA,
    ROLES_BODY,
    USER_ID,
    USER_SCHEMA,
    create_body,
    password_body,
)
from authkit.admin.roles import parse_roles
from authkit.admin.service import Administration
from authkit.admin.store import MAX_PAGE, is_user_id
from authkit.core.errors import InsufficientScope, NotFound, ValidationFailed
from authkit.core.guard import guard
from authkit.core.strategy import AuthenticatedUser
from authkit.http.body import read_fields
from authkit.http.endpoint import Endpoint
from authkit.http.openapi import describe, error_responses, json_response
from authkit.http.responses import JSON
from authkit.users.store import User

__all__ = ["admin_routes", "user_json"]

_NO_STORE = {"Cache-Control": "no-store"}


def user_json(user: User) -> dict[str, Any]:
    created = ObjectId(user.id).generation_time if ObjectId.is_valid(user.id) else None
    return {
        "_id": user.id,
        "username": user.username,
        "roles": list(user.roles),
        "disabled": user.disabled,
        "createdAt": None if created is None else _iso(created),
    }


def _iso(moment: Any) -> str:
    return str(moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"))


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ValidationFailed([f"limit must be a whole number from 1 to {MAX_PAGE}"])
    return int(text)


def _page_query(request: Request) -> tuple[str | None, str | None, int]:
    params = request.query_params
    search, after = params.get("q"), params.get("after")
    if search is not None and len(search) > MAX_SEARCH:
        raise ValidationFailed([f"q must be at most {MAX_SEARCH} characters"])
    if after is not None and not is_user_id(after):
        raise ValidationFailed(["after must be the `next` of a page"])
    return search or None, after, _limit(params.get("limit"))


def _user_id(request: Request) -> str:
    user_id: str = request.path_params["user_id"]
    if not is_user_id(user_id):
        raise NotFound("User not found")
    return user_id


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise ValidationFailed([f"{name} must be a string"])
    return value


def admin_routes(admin: Administration, max_body_bytes: int) -> list[Route]:
    role = admin.admin_role

    async def caller(request: Request) -> str:
        """The administrator's id, once the database says they still are one."""
        principal: AuthenticatedUser = request.user
        current = await admin.users.find_by_id(principal.id)
        if current is None or current.disabled or role not in current.roles:
            raise InsufficientScope([role])
        return principal.id

    async def body(request: Request) -> dict[str, Any]:
        return await read_fields(request, max_body_bytes, require_object=True)

    one_user = json_response("The user", USER_SCHEMA)

    @describe(
        operation_id="adminListUsers",
        summary="A page of users, oldest first, optionally those whose name starts with q",
        parameters=LIST_PARAMETERS,
        responses={200: json_response("Users", PAGE_SCHEMA), **error_responses(400, 401, 503)},
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def list_users(request: Request) -> Response:
        await caller(request)
        search, after, limit = _page_query(request)
        users, next_after = await admin.page(search=search, after=after, limit=limit)
        page = {"users": [user_json(u) for u in users], "next": next_after}
        return JSON(page, headers=_NO_STORE)

    @describe(
        operation_id="adminCreateUser",
        summary="Create a user (sign-up's rules), with roles; works with sign-up closed",
        request_body=create_body(admin.policy),
        responses={
            201: json_response("Created", USER_SCHEMA),
            **error_responses(400, 401, 409, 413, 503),
        },
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def create_user(request: Request) -> Response:
        by = await caller(request)
        fields = await body(request)
        roles = parse_roles(fields["roles"]) if "roles" in fields else ()
        user = await admin.create(
            _text(fields, "username"), _text(fields, "password"), roles=roles, by=by
        )
        return JSON(user_json(user), status_code=201, headers=_NO_STORE)

    @describe(
        operation_id="adminGetUser",
        summary="One user",
        parameters=[USER_ID],
        responses={200: one_user, **error_responses(401, 404, 503)},
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def show_user(request: Request) -> Response:
        await caller(request)
        return JSON(user_json(await admin.show(_user_id(request))), headers=_NO_STORE)

    @describe(
        operation_id="adminDisableUser",
        summary="Disable a user: no sign-in, no refresh, every session ended",
        parameters=[USER_ID],
        responses={200: one_user, **error_responses(401, 404, 409, 503)},
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def disable_user(request: Request) -> Response:
        by = await caller(request)
        return JSON(user_json(await admin.disable(_user_id(request), by=by)))

    @describe(
        operation_id="adminEnableUser",
        summary="Enable a disabled user again",
        parameters=[USER_ID],
        responses={200: one_user, **error_responses(401, 404, 503)},
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def enable_user(request: Request) -> Response:
        by = await caller(request)
        return JSON(user_json(await admin.enable(_user_id(request), by=by)))

    @describe(
        operation_id="adminSetRoles",
        summary="Replace a user's roles (in their tokens from the next refresh on)",
        parameters=[USER_ID],
        request_body=ROLES_BODY,
        responses={200: one_user, **error_responses(400, 401, 404, 409, 413, 503)},
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def set_roles(request: Request) -> Response:
        by = await caller(request)
        user_id = _user_id(request)
        fields = await body(request)
        if "roles" not in fields:
            raise ValidationFailed(["roles must be a list of strings"])
        user = await admin.set_roles(user_id, parse_roles(fields["roles"]), by=by)
        return JSON(user_json(user))

    @describe(
        operation_id="adminUnlockUser",
        summary="Forget a user's failed sign-ins (a lock-out), from every address",
        parameters=[USER_ID],
        responses={
            200: json_response(
                "Unlocked",
                {
                    "type": "object",
                    "required": ["cleared"],
                    "properties": {"cleared": {"type": "integer"}},
                },
            ),
            **error_responses(401, 404, 503),
        },
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def unlock_user(request: Request) -> Response:
        by = await caller(request)
        return JSON({"cleared": await admin.clear_lockout(_user_id(request), by=by)})

    @describe(
        operation_id="adminSignOutUser",
        summary="End every session of a user and outdate their access tokens",
        parameters=[USER_ID],
        responses={
            200: json_response(
                "Signed out",
                {
                    "type": "object",
                    "required": ["sessions"],
                    "properties": {"sessions": {"type": "integer"}},
                },
            ),
            **error_responses(401, 404, 503),
        },
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def sign_out_user(request: Request) -> Response:
        by = await caller(request)
        return JSON({"sessions": await admin.end_sessions(_user_id(request), by=by)})

    @describe(
        operation_id="adminSetPassword",
        summary="Set a user's password (sign-up's policy); every session of theirs ends",
        parameters=[USER_ID],
        request_body=password_body(admin.policy),
        responses={204: {"description": "Set"}, **error_responses(400, 401, 404, 413, 503)},
        tags=["admin"],
    )
    @guard("jwt", scopes=[role])
    async def set_password(request: Request) -> Response:
        by = await caller(request)
        user_id = _user_id(request)
        fields = await body(request)
        await admin.set_password(user_id, _text(fields, "password"), by=by)
        return Response(status_code=204)

    one = "/auth/admin/users/{user_id}"
    return [
        Route("/auth/admin/users", Endpoint(list_users), methods=["GET"]),
        Route("/auth/admin/users", Endpoint(create_user), methods=["POST"]),
        Route(one, Endpoint(show_user), methods=["GET"]),
        Route(f"{one}/disable", Endpoint(disable_user), methods=["POST"]),
        Route(f"{one}/enable", Endpoint(enable_user), methods=["POST"]),
        Route(f"{one}/roles", Endpoint(set_roles), methods=["PUT"]),
        Route(f"{one}/unlock", Endpoint(unlock_user), methods=["POST"]),
        Route(f"{one}/signout-all", Endpoint(sign_out_user), methods=["POST"]),
        Route(f"{one}/password", Endpoint(set_password), methods=["PUT"]),
    ]
