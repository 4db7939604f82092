"""The OpenAPI descriptions of the /auth/admin routes: the user, a page, the parameters and
the bodies (authkit.admin.routes)."""

from __future__ import annotations

from typing import Any

from authkit.admin.store import MAX_PAGE
from authkit.http.openapi import fields_body

__all__ = [
    "CREATE_BODY",
    "DEFAULT_PAGE",
    "LIST_PARAMETERS",
    "MAX_SEARCH",
    "PAGE_SCHEMA",
    "PASSWORD_BODY",
    "ROLES_BODY",
    "USER_ID",
    "USER_SCHEMA",
]

DEFAULT_PAGE = 20
MAX_SEARCH = 64

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_id", "username", "roles", "disabled", "createdAt"],
    "properties": {
        "_id": {"type": "string"},
        "username": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "disabled": {"type": "boolean"},
        "createdAt": {"type": "string", "format": "date-time"},
    },
}
PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["users", "next"],
    "properties": {
        "users": {"type": "array", "items": USER_SCHEMA},
        "next": {
            "type": "string",
            "nullable": True,
            "description": "pass as `after` for the next page; null on the last",
        },
    },
}
USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
LIST_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": False,
        "description": "a prefix of the username (compared in canonical form)",
        "schema": {"type": "string", "maxLength": MAX_SEARCH},
    },
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "the `next` of the page before",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
    },
]
ROLES_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"},
    "description": "or, in a form, one field of roles separated by spaces or commas",
}
CREATE_BODY = fields_body(
    {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 4, "maxLength": 20},
            "password": {"type": "string"},
            "roles": ROLES_SCHEMA,
        },
    },
    required=True,
)
ROLES_BODY = fields_body(
    {"type": "object", "required": ["roles"], "properties": {"roles": ROLES_SCHEMA}},
    required=True,
)
PASSWORD_BODY = fields_body(
    {"type": "object", "required": ["password"], "properties": {"password": {"type": "string"}}},
    required=True,
)
